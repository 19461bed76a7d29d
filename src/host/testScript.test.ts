// scripts/test.sh (`npm test`) runs the type check, the linter, the builds and the light browser
// specs in the background beside Vitest, then the webgpu specs. A background step that fails must
// still fail the run, and the second browser pass must reuse the builds. Here the script runs as
// shipped, with scripts/setup.sh replaced by no-ops and a stand-in `npx` first on PATH that logs each
// call, writes the reports a real run writes, and fails the tool named by STAND_IN_FAIL; nothing is
// built or tested for real.

import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from './projectRoot';

const STAND_IN_NPX = `#!/usr/bin/env bash
echo "$* E2E_BUILT=\${E2E_BUILT:-} E2E_PASS=\${E2E_PASS:-}" >> "$CALLS"
tool=$1
case "$tool" in
  vitest) echo '{"numPassedTests":10,"numFailedTests":0,"numPendingTests":0,"numTodoTests":0}' > test-results/vitest.json ;;
  playwright) echo "{\\"stats\\":{\\"expected\\":3,\\"unexpected\\":\${STAND_IN_UNEXPECTED:-0},\\"skipped\\":0}}" \\
    > "test-results/playwright\${E2E_PASS:+-$E2E_PASS}.json" ;;
esac
[ "\${STAND_IN_FAIL:-}" = "$tool\${E2E_PASS:+-$E2E_PASS}" ] && { echo "stand-in: $tool failed"; exit 1; }
exit 0
`;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'test-script-'));
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'bin'));
  for (const file of ['test.sh', 'summary.mjs'])
    copyFileSync(join(projectRoot(), 'scripts', file), join(dir, 'scripts', file));
  writeFileSync(
    join(dir, 'scripts', 'setup.sh'),
    'ensure_system_packages() { :; }\nensure_node_modules() { :; }\nuse_cpu_webgpu() { :; }\n',
  );
  writeFileSync(join(dir, 'bin', 'npx'), STAND_IN_NPX);
  chmodSync(join(dir, 'bin', 'npx'), 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs scripts/test.sh with the stand-ins; returns its exit code, its output and the npx calls in order. */
function runTestScript(env: Record<string, string> = {}) {
  const calls = join(dir, 'calls');
  rmSync(calls, { force: true });
  rmSync(join(dir, 'test-results'), { recursive: true, force: true });
  const run = spawnSync('bash', ['scripts/test.sh'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env, CALLS: calls, PATH: `${join(dir, 'bin')}:${process.env.PATH}` },
  });
  let lines: string[] = [];
  try {
    lines = readFileSync(calls, 'utf8').trim().split('\n');
  } catch {}
  return { code: run.status, output: run.stdout + run.stderr, calls: lines };
}

const heavyPass = (call: string) => call.startsWith('playwright test --project=webgpu ');

describe('scripts/test.sh', () => {
  it('runs every step, the browser passes on the builds made once, and sums every report', () => {
    const run = runTestScript();
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('Tests: 16 passed, 0 failed, 0 skipped');
    // Each step once; the light pass after both builds, the webgpu pass last; neither builds.
    expect(run.calls.filter((c) => c.startsWith('vite build'))).toHaveLength(2);
    const at = (prefix: string) => run.calls.findIndex((c) => c.startsWith(prefix));
    for (const step of ['tsc --noEmit', 'biome check .', 'vitest run'])
      expect(at(step), step).toBeGreaterThanOrEqual(0);
    expect(at('vite build --config vite.node.config.ts')).toBeGreaterThan(at('vite build --logLevel'));
    expect(run.calls[at('playwright test')]).toBe(
      'playwright test --project=no-webgpu --project=webgpu-light E2E_BUILT=1 E2E_PASS=light',
    );
    expect(at('playwright test')).toBeGreaterThan(at('vite build --config vite.node.config.ts'));
    expect(run.calls.at(-1)).toBe('playwright test --project=webgpu E2E_BUILT=1 E2E_PASS=');
  });

  for (const [tool, step] of [
    ['tsc', 'types'],
    ['biome', 'lint'],
    ['vite', 'e2e-light'],
    ['playwright-light', 'e2e-light'],
    ['vitest', 'vitest'],
  ] as const)
    it(`fails, naming the step, and runs no webgpu specs when ${tool} fails`, () => {
      const run = runTestScript({ STAND_IN_FAIL: tool });
      expect(run.code, run.output).toBe(1);
      expect(run.output).toContain(`Failed: ${step}`);
      // The background step's own output is printed too.
      if (tool !== 'vitest') expect(run.output).toContain(`stand-in: ${tool.split('-')[0]} failed`);
      expect(run.calls.filter(heavyPass)).toEqual([]);
    });

  it('fails when the webgpu pass fails, and when a report counts a failed test', () => {
    expect(runTestScript({ STAND_IN_FAIL: 'playwright' }).code).toBe(1);
    const run = runTestScript({ STAND_IN_UNEXPECTED: '1' });
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain('Tests: 16 passed, 2 failed, 0 skipped');
  });
});
