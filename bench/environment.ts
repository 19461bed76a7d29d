// What the JSON report records about where it ran: versions, host and Vulkan driver selection.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file is bench/environment.ts, or bundled into dist-node/bench.js. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function packageVersion(file: string): string | null {
  try {
    return (
      (JSON.parse(readFileSync(path.join(repoRoot, file), 'utf8')) as { version?: string }).version ?? null
    );
  } catch {
    return null;
  }
}

function gitDescribe(): string | null {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

export function environment() {
  const cpus = os.cpus();
  return {
    versions: {
      node: process.version,
      package: packageVersion('package.json'),
      webgpu: packageVersion('node_modules/webgpu/package.json'),
      vite: packageVersion('node_modules/vite/package.json'),
      git: gitDescribe(),
    },
    host: {
      platform: process.platform,
      arch: process.arch,
      release: os.release(),
      cpuModel: cpus[0]?.model ?? null,
      cpus: cpus.length,
      totalMemBytes: os.totalmem(),
      /** 1/5/15-minute load averages when the report was written: other work skews every number. */
      loadavg: os.loadavg(),
    },
    env: {
      VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? null,
    },
  };
}
