import { existsSync, readdirSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshSeed, Random } from '../kernels/random';
import { PrunedOnDiskFolder } from './prunedOnDisk';

describe('pruned matrices on disk', () => {
  it('gives back what was set, bit for bit, in order, and the folder goes with remove()', () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const folder = PrunedOnDiskFolder.create(join(tmpdir(), 'pruned-on-disk-test'));
    const store = folder.store();
    // Odd lengths, a NaN and a negative zero: the bytes travel, not the values.
    const a = random.uniform(37);
    a[3] = Number.NaN;
    a[4] = -0;
    const b = random.uniform(1);
    store.set('layers.0.q.weight', a);
    store.set('layers.0.k.weight', b);
    const b2 = random.uniform(5);
    store.set('layers.0.k.weight', b2);
    expect(store.size).toBe(2);
    expect([...store.keys()]).toEqual(['layers.0.q.weight', 'layers.0.k.weight']);
    const got = store.get('layers.0.q.weight') as Float32Array;
    expect(new Uint32Array(got.buffer), `seed ${seed}`).toEqual(new Uint32Array(a.buffer));
    expect(store.get('layers.0.k.weight')).toEqual(b2);
    expect(store.get('layers.1.q.weight')).toBeUndefined();
    expect([...store].map(([name, data]) => [name, data.length])).toEqual([
      ['layers.0.q.weight', 37],
      ['layers.0.k.weight', 5],
    ]);
    expect(readdirSync(folder.path)).toHaveLength(1);
    folder.remove();
    expect(existsSync(folder.path)).toBe(false);
  });

  it('names the tensor when its file no longer holds what was written', () => {
    const folder = PrunedOnDiskFolder.create(join(tmpdir(), 'pruned-on-disk-test'));
    try {
      const store = folder.store();
      store.set('layers.2.down.weight', new Float32Array(8));
      const [storeDir] = readdirSync(folder.path);
      truncateSync(join(folder.path, storeDir as string, '0.f32'), 12);
      expect(() => store.get('layers.2.down.weight')).toThrow(
        /the pruned layers\.2\.down\.weight was 32 bytes, the file now holds 12/,
      );
    } finally {
      folder.remove();
    }
  });
});
