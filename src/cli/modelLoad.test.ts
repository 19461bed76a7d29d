// The CLI opens and loads models through the load job (src/jobs/load.ts), as the studio does: a
// model that does not fit the memory budget is refused before any work with exit code 2, saying
// what does not fit and what to do; a load prints its progress in bytes; a broken model file fails
// with the studio's advice, on stderr and in --json.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../host/projectRoot';
import { jsonOf, runCommand, tempFolder } from './testing';

const MODEL = join(projectRoot(), 'public/models/stories260K');
/** stories260K's 260,032 parameters as f32: what a resident load uploads. */
const WEIGHT_BYTES = 4 * 260_032;

const temp = tempFolder('cli-model-load-');

describe('the fit check in the CLI', () => {
  it('eval refuses a model over the budget with exit 2, naming what does not fit, before the text is read', async () => {
    const run = await runCommand('eval', '--text', 'tinystories', '--budget-gib', '0.000001', '--json');
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(
      /^error: stories260K does not fit: even one block at a time needs .*, above the 1\.05 KiB budget/,
    );
    expect(run.stderr).toMatch(/Raise the memory budget/);
    // Refused before scoring: no perplexity bar was drawn.
    expect(run.stderr).not.toContain('perplexity [');
    const out = jsonOf(run);
    expect(out).toMatchObject({ command: 'eval', kind: 'does-not-fit' });
    expect(out.error).toMatch(/stories260K does not fit/);
    expect(out.advice).toMatch(/Raise the memory budget/);
    expect(out.record).toMatchObject({ kind: 'eval', status: 'failed', model: { name: 'stories260K' } });
  });

  it('generate refuses a model over the budget with exit 2 as well', async () => {
    const run = await runCommand('generate', '--max-tokens', '2', '--budget-gib', '0.00001', '--json');
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/^error: stories260K does not fit: even one block at a time needs/);
    expect(jsonOf(run)).toMatchObject({ command: 'generate', kind: 'does-not-fit' });
  });

  it('generate refuses a budget its KV cache alone takes, saying so', async () => {
    const run = await runCommand('generate', '--max-tokens', '2', '--budget-gib', '0.0000001');
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(
      /^error: stories260K does not fit: its KV cache of \d+ positions takes .*, all of the/,
    );
    expect(run.stderr).toMatch(/--budget-gib/);
  });
});

describe('loading in the CLI', () => {
  it('generate prints the load job’s progress in bytes, ending at the weights’ total', async () => {
    const run = await runCommand('generate', '--max-tokens', '2', '--json');
    expect(run.code, run.stderr).toBe(0);
    // stderr is not a terminal here, so the line is printed once, when the load is done.
    expect(run.stderr).toMatch(new RegExp(`load \\[#{24}\\] ${WEIGHT_BYTES}/${WEIGHT_BYTES} bytes`));
    expect(jsonOf(run)).toMatchObject({ command: 'generate', residency: 'resident' });
  });

  it('a truncated weights file fails with exit 1, naming the file, with the studio’s advice', async () => {
    const folder = join(temp.dir, 'truncated');
    await mkdir(folder);
    const weights = await readFile(join(MODEL, 'model.safetensors'));
    await writeFile(join(folder, 'model.safetensors'), weights.subarray(0, weights.length >> 1));
    for (const name of ['config.json', 'tok512.bin'])
      await writeFile(join(folder, name), await readFile(join(MODEL, name)));
    const run = await runCommand('eval', '--model', folder, '--text', 'tinystories', '--json');
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^error: model\.safetensors.*truncated/);
    expect(run.stderr).toMatch(/Check that the files are complete/);
    expect(jsonOf(run)).toMatchObject({ kind: 'model-format', advice: expect.stringMatching(/complete/) });
  });
});
