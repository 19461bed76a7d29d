// Playwright's globalSetup: builds the CLI's Node bundle (dist-node/, vite.node.config.ts) once,
// before any spec runs it through e2e/cli.ts, so that a spec's CLI calls time the CLI and not
// the build.

import { execFileSync } from 'node:child_process';

export default function buildCli() {
  execFileSync(
    'npx',
    ['--no-install', 'vite', 'build', '--config', 'vite.node.config.ts', '--logLevel', 'warn'],
    {
      stdio: 'inherit',
    },
  );
}
