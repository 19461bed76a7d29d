// The headless CLI on Dawn in Node, as the specs that compare the page with it run it. The bundle
// is built once per Playwright run (e2e/buildCli.ts, the config's globalSetup) and run here with
// plain `node`: through scripts/cli.sh every call would rebuild it first, several seconds each on
// two loaded cores, for the same bundle every time.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CLI_BUNDLE = 'dist-node/cli.js';

/** Runs `node dist-node/cli.js <args>` with the WebGPU environment scripts/cli.sh sets; resolves with its stdout. */
export function runCli(args: string[], timeout: number): string {
  if (!existsSync(CLI_BUNDLE))
    throw new Error(
      `${CLI_BUNDLE} is missing: the Playwright config's globalSetup (e2e/buildCli.ts) builds it`,
    );
  const env = { ...process.env };
  env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
  env.XDG_RUNTIME_DIR ??= '/tmp';
  return execFileSync('node', [CLI_BUNDLE, ...args], {
    env,
    encoding: 'utf8',
    timeout,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
