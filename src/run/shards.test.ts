import { describe, expect, it } from 'vitest';
import { describeBlocks, shardBlocks } from './shards';

describe("shards of a model's blocks", () => {
  it('splits the blocks into contiguous ranges that cover each block once, sizes within one', () => {
    for (let layers = 1; layers <= 13; layers++) {
      for (let count = 1; count <= layers; count++) {
        const shards = Array.from({ length: count }, (_, i) => shardBlocks({ index: i + 1, count }, layers));
        expect(shards.flat(), `${count} shards of ${layers}`).toEqual(
          Array.from({ length: layers }, (_, b) => b),
        );
        const sizes = shards.map((s) => s.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        for (const s of shards) expect(s.length).toBeGreaterThan(0);
      }
    }
    expect(shardBlocks({ index: 2, count: 2 }, 3)).toEqual([1, 2]);
  });

  it('refuses more shards than blocks', () => {
    expect(() => shardBlocks({ index: 1, count: 4 }, 3)).toThrow(/4 shards of a 3-block model/);
  });

  it('describes block lists as ranges', () => {
    expect(describeBlocks([0, 1, 2, 5, 7, 8])).toBe('0-2, 5, 7-8');
    expect(describeBlocks([3])).toBe('3');
    expect(describeBlocks([])).toBe('');
  });
});
