import { describe, expect, it } from 'vitest';
import type { EngineLimits } from '../gpu/device';
import { foldGrid } from './params';
import { bindWindow, planBlocks, span, windowCapacity, windowLimits } from './window';

describe('binding windows', () => {
  it('binds from the aligned address below the block and reports the element offset', () => {
    const buffer = { size: 1 << 20 } as GPUBuffer;
    const w = bindWindow(buffer, 1000, 300, 256);
    expect(w.binding).toEqual({ buffer, offset: 3840, size: (40 + 300) * 4 });
    expect(w.base).toBe(40);
  });

  it('plans blocks whose every window fits and keeps whole tiles', () => {
    const capacity = windowCapacity(4096, 256);
    const ld = 1000;
    const block = planBlocks<'m' | 'k'>(
      { m: 500, k: 1000 },
      [{ measure: (b) => span(b.m, b.k, ld), limit: capacity, shrink: ['m', 'k'] }],
      64,
    );
    expect(span(block.m, block.k, ld)).toBeLessThanOrEqual(capacity);
    expect(block.m).toBe(1);
    expect(block.k % 64).toBe(0);
  });

  it('reads the alignment, the elements a window spans and the grid from the device limits', () => {
    const limits = {
      minStorageBufferOffsetAlignment: 256,
      maxStorageBufferBindingSize: 2048,
      maxComputeWorkgroupsPerDimension: 3,
    } as EngineLimits;
    // (2048 − 256) bytes of a binding are always usable past the aligned start: 448 f32.
    expect(windowLimits(limits)).toEqual({ align: 256, capacity: 448, maxGroups: 3 });
  });

  it('refuses when not even one element fits', () => {
    expect(() => planBlocks({ m: 4 }, [{ measure: () => 10, limit: 5, shrink: ['m'] }], 64)).toThrow(
      /single element/,
    );
  });
});

describe('grid folding', () => {
  it('folds a large grid into two dimensions that cover it', () => {
    expect(foldGrid(10, 65535)).toEqual([10, 1]);
    const [x, y] = foldGrid(100_000, 65535);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(100_000);
    expect(() => foldGrid(10, 3)).toThrow(RangeError);
  });
});
