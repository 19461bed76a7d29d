// `prune --pruned-on-disk` keeps finished blocks' matrices in files instead of in memory: the model
// it writes must be the in-memory run's, byte for byte, every pruned matrix must really have gone
// through the files, and none of them may be left behind.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PrunedOnDiskFolder } from '../host/prunedOnDisk';
import { randomTensors, tinyConfig } from '../model/testModels';
import { jsonOf, runCommand, writeModelFolder } from './testing';

const stores = vi.hoisted(() => [] as { size: number }[]);

// Every store the CLI makes, to count what went through the files.
vi.mock('../host/prunedOnDisk', async (importOriginal) => {
  const original = await importOriginal<typeof import('../host/prunedOnDisk')>();
  const { store } = original.PrunedOnDiskFolder.prototype;
  original.PrunedOnDiskFolder.prototype.store = function (this: PrunedOnDiskFolder) {
    const made = store.call(this);
    stores.push(made);
    return made;
  };
  return original;
});

const config = tinyConfig('opt', { layers: 2, vocabSize: 512 });
let dir: string;
let model: string;

const pruneArgs = (out: string, ...extra: string[]) => [
  'prune',
  '--model',
  model,
  '--method',
  'wanda',
  '--calibration',
  'tinystories',
  '--calibration-windows',
  '2',
  '--calibration-length',
  '8',
  '--eval',
  'none',
  '--out',
  out,
  '--json',
  ...extra,
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pruned-on-disk-cli-test-'));
  model = join(dir, 'tiny');
  await writeModelFolder(model, config, randomTensors(config, 5));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('prune --pruned-on-disk', () => {
  it('writes the in-memory run’s model through files it removes afterwards', async () => {
    const inMemory = await runCommand(...pruneArgs(join(dir, 'memory')));
    expect(inMemory.code, inMemory.stderr).toBe(0);
    expect(stores).toHaveLength(0);

    const onDisk = await runCommand(...pruneArgs(join(dir, 'disk'), '--pruned-on-disk'));
    expect(onDisk.code, onDisk.stderr).toBe(0);
    expect(stores.map((s) => s.size)).toEqual([config.layers * 6]);
    expect((await readdir(join(dir, 'disk'))).filter((n) => n.startsWith('.pruned-matrices'))).toEqual([]);
    expect(jsonOf(onDisk).summary).toMatchObject({
      sparsity: (jsonOf(inMemory).summary as { sparsity: number }).sparsity,
    });
    const bytes = (run: string) => readFile(join(dir, run, 'model.safetensors'));
    expect(Buffer.compare(await bytes('disk'), await bytes('memory'))).toBe(0);
  });
});
