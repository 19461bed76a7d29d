// `prune --pruned-on-disk` keeps finished blocks' matrices in files instead of in memory: the model
// it writes must be the in-memory run's, byte for byte, every pruned matrix must really have gone
// through the files, and none of them may be left behind.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { PrunedOnDiskFolder } from '../host/prunedOnDisk';
import { tinyConfig } from '../model/testModels';
import { jsonOf, runCommand, SMALL_CALIBRATION, tinyModelInTemp } from './testing';

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
const temp = tinyModelInTemp('pruned-on-disk-cli-test-', config, 5);

const pruneArgs = (out: string, ...extra: string[]) => [
  'prune',
  '--model',
  temp.model,
  '--method',
  'wanda',
  ...SMALL_CALIBRATION,
  '--eval',
  'none',
  '--out',
  out,
  '--json',
  ...extra,
];

describe('prune --pruned-on-disk', () => {
  it('writes the in-memory run’s model through files it removes afterwards', async () => {
    const inMemory = await runCommand(...pruneArgs(join(temp.dir, 'memory')));
    expect(inMemory.code, inMemory.stderr).toBe(0);
    expect(stores).toHaveLength(0);

    const onDisk = await runCommand(...pruneArgs(join(temp.dir, 'disk'), '--pruned-on-disk'));
    expect(onDisk.code, onDisk.stderr).toBe(0);
    expect(stores.map((s) => s.size)).toEqual([config.layers * 6]);
    expect((await readdir(join(temp.dir, 'disk'))).filter((n) => n.startsWith('.pruned-matrices'))).toEqual(
      [],
    );
    expect(jsonOf(onDisk).summary).toMatchObject({
      sparsity: (jsonOf(inMemory).summary as { sparsity: number }).sparsity,
    });
    const bytes = (run: string) => readFile(join(temp.dir, run, 'model.safetensors'));
    expect(Buffer.compare(await bytes('disk'), await bytes('memory'))).toBe(0);
  });
});
