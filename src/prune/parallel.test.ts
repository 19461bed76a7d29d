import { describe, expect, it } from 'vitest';
import { freshSeed, Random } from '../kernels/random';
import type { BlockSummary } from './events';
import { defaultPruneOptions, type PruneOutput } from './job';
import {
  devicesProblem,
  joinPruneOutputs,
  MAX_PRUNE_DEVICES,
  maxPruneDevices,
  splitBlocks,
} from './parallel';

describe('splitting blocks into ranges', () => {
  it('covers every block once, in order, in contiguous ranges whose sizes differ by at most one', () => {
    const seed = freshSeed();
    const random = new Random(seed);
    for (let trial = 0; trial < 200; trial++) {
      const count = 1 + Math.floor(random.next() * 40);
      const start = Math.floor(random.next() * 5);
      const blocks = Array.from({ length: count }, (_, i) => start + 2 * i);
      const parts = 1 + Math.floor(random.next() * 12);
      const ranges = splitBlocks(blocks, parts);
      expect(ranges.flat(), `seed ${seed}`).toEqual(blocks);
      expect(ranges.length).toBe(Math.min(parts, count));
      const sizes = ranges.map((r) => r.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(Math.min(...sizes)).toBeGreaterThan(0);
    }
  });

  it('refuses a count that is not a whole number ≥ 1', () => {
    expect(() => splitBlocks([0, 1], 0)).toThrow(/parts = 0/);
    expect(() => splitBlocks([0, 1], 1.5)).toThrow(/parts = 1.5/);
  });
});

describe('joining runs over ranges', () => {
  const options = defaultPruneOptions('fista', { context: 16, parameters: 1000 });
  const block = (b: number, sparsity: number, rows: number): BlockSummary => ({
    block: b,
    ms: 10,
    matrices: [
      {
        tensor: `layers.${b}.q.weight`,
        block: b,
        operator: 'q',
        rows,
        cols: 4,
        sparsity,
        error: 0,
        relativeError: 0,
        ms: 5,
      },
    ],
  });
  const run = (blocks: BlockSummary[]): PruneOutput => ({
    tensors: new Map(blocks.map((b) => [`layers.${b.block}.q.weight`, new Float32Array(4)])),
    summary: {
      method: 'fista',
      options: { ...options, blocks: blocks.map((b) => b.block) },
      blocks,
      sparsity: 0,
      calibrationTokens: 64,
      ms: 10 * blocks.length,
    },
  });

  it('orders the blocks, weighs the sparsity by entries, adds the time and keeps the whole run’s options', () => {
    const joined = joinPruneOutputs(options, [
      run([block(2, 0.75, 4)]),
      run([block(0, 0.5, 2), block(1, 0.5, 2)]),
    ]);
    expect(joined.summary.blocks.map((b) => b.block)).toEqual([0, 1, 2]);
    expect(joined.summary.sparsity).toBeCloseTo((0.5 * 8 + 0.5 * 8 + 0.75 * 16) / 32, 12);
    expect(joined.summary.ms).toBe(30);
    expect(joined.summary.options).toBe(options);
    expect([...joined.tensors.keys()].sort()).toEqual([
      'layers.0.q.weight',
      'layers.1.q.weight',
      'layers.2.q.weight',
    ]);
  });

  it('refuses runs that pruned the same tensor, and nothing at all', () => {
    expect(() => joinPruneOutputs(options, [run([block(0, 0.5, 2)]), run([block(0, 0.5, 2)])])).toThrow(
      /layers\.0\.q\.weight was pruned by two runs/,
    );
    expect(() => joinPruneOutputs(options, [])).toThrow(/no runs/);
  });
});

describe('how many devices a run may take', () => {
  it('is bounded by the cores, by the budget over one block’s peak, and by the cap; never below 1', () => {
    const MB = 1e6;
    expect(maxPruneDevices({ cores: 16, budgetBytes: 1000 * MB })).toBe(MAX_PRUNE_DEVICES);
    expect(maxPruneDevices({ cores: 3, budgetBytes: 1000 * MB })).toBe(3);
    // 1000 MB holds four blocks of 240 MB, not five.
    expect(maxPruneDevices({ cores: 16, budgetBytes: 1000 * MB, peakBytes: 240 * MB })).toBe(4);
    expect(maxPruneDevices({ cores: 16, budgetBytes: 100 * MB, peakBytes: 240 * MB })).toBe(1);
    expect(maxPruneDevices({ cores: Number.NaN, budgetBytes: 1000 * MB })).toBe(1);
  });

  it('says what is wrong with a count: not whole, above the room, or several where blocks cannot be split', () => {
    expect(devicesProblem(2, true, 4)).toBeNull();
    expect(devicesProblem(1, false, 1)).toBeNull();
    expect(devicesProblem(0, true, 4)).toMatch(/whole number/);
    expect(devicesProblem(1.5, true, 4)).toMatch(/whole number/);
    expect(devicesProblem(2, false, 4)).toMatch(/dense block inputs/);
    expect(devicesProblem(5, true, 4)).toMatch(/At most 4/);
  });
});
