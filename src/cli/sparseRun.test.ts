// `eval` and `generate` with --sparse: a 2:4 prune of the built-in model run with its block matrices
// kept compressed and multiplied by the sparse kernels gives the greedy tokens, and the perplexity
// within the forward's bound (src/model/compressedModel.test.ts), of the same weights stored densely.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, runCommand } from './testing';

const PPL_BOUND = 2e-4;

let dir: string;
let pruned: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sparse-run-test-'));
  pruned = join(dir, 'pruned-2-4');
  const run = await runCommand(
    'prune',
    '--method',
    'magnitude',
    '--pattern',
    '2:4',
    '--calibration-windows',
    '2',
    '--calibration-length',
    '16',
    '--eval',
    'none',
    '--out',
    pruned,
    '--json',
  );
  expect(run.code, run.stderr).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('--sparse', () => {
  it('generate: the same greedy tokens with the blocks compressed', async () => {
    const args = [
      'generate',
      '--model',
      pruned,
      '--prompt',
      'Once upon a time',
      '--max-tokens',
      '6',
      '--json',
    ];
    const dense = jsonOf(await runCommand(...args));
    const sparse = jsonOf(await runCommand(...args, '--sparse', '2:4'));
    expect(sparse.tokens).toEqual(dense.tokens);
  });

  it('eval: the same perplexity within the bound, and the record says how it ran', async () => {
    const args = [
      'eval',
      '--model',
      pruned,
      '--text',
      'tinystories',
      '--seq-len',
      '64',
      '--windows',
      '2',
      '--json',
    ];
    const dense = jsonOf(await runCommand(...args)) as { ppl: number };
    const sparse = jsonOf(await runCommand(...args, '--sparse', '2:4')) as { ppl: number; record: unknown };
    expect(Math.abs(sparse.ppl - dense.ppl) / dense.ppl).toBeLessThanOrEqual(PPL_BOUND);
    expect(JSON.stringify(sparse.record)).toContain('"sparse":{"format":"nm","n":2,"m":4}');
  });

  it('refuses a model that breaks the pattern, naming the tensor, and a pattern that is none', async () => {
    const dense = await runCommand('generate', '--max-tokens', '2', '--sparse', '2:4');
    expect(dense.code).toBe(1);
    expect(dense.stderr).toMatch(/layers\.0\.q\.weight/);
    const bad = await runCommand('generate', '--sparse', '5:4');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected N:M with 1 ≤ N < M ≤ 16/);
  });
});
