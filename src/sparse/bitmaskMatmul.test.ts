// The unstructured (bitmask) Y = X·Wᵀ kernel against the float64 reference: awkward shapes, every
// sparsity from dense to empty, rows empty and rows full in one matrix, accumulate, offsets into
// larger buffers, and the same again under 2 KiB bindings where X, Y and W are split into blocks.

import { describe, expect, it } from 'vitest';
import { GpuLimitError } from '../gpu/errors';
import { withKernelRuntimes } from '../host/testRuntimes';
import { freshSeed, Random } from '../kernels/random';
import { F32_EPS, matmulReference, relativeError } from '../kernels/reference';
import { poisoned, scratch } from '../kernels/testing';
import {
  bitmaskMatmul,
  bitmaskMatmulBlocks,
  bitmaskMatmulBound,
  bitmaskMatmulDispatches,
  bitmaskMostStored,
} from './bitmaskMatmul';
import { randomUnstructuredDense } from './randomSparse';
import { sparseLinearDispatches } from './sparseLinear';
import { expectAssignedAndAccumulated, plusAccumulated, uploadBitmask } from './testing';

/**
 * A random matrix at `density` whose row 0 stores nothing and whose last row (when there are two
 * or more) stores every column, so one matrix has empty, full and partial rows.
 */
function mixedRows(random: Random, rows: number, cols: number, density: number): Float32Array {
  const dense = randomUnstructuredDense(random, rows, cols, density);
  dense.fill(0, 0, cols);
  if (rows > 1)
    for (let c = 0; c < cols; c++) {
      const i = (rows - 1) * cols + c;
      // uniform() may draw an exact 0, which would not be stored.
      if (dense[i] === 0) dense[i] = random.next() + 0.5;
    }
  return dense;
}

describe('bitmask Y = X·Wᵀ', () => {
  // 2 KiB bindings hold 448 elements and 3 workgroups per dimension fold the grid: X and Y are split
  // into blocks of tokens and W into blocks of rows (cut again where their values do not fit).
  const { full, tiny, both } = withKernelRuntimes();

  // [tokens, rows, cols, density]: one token; primes; cols not a multiple of 32 (nor of the 64
  // columns staged at a time); sparsity 0 %, 50 %, 90 % and 100 %; token and row counts that leave
  // partial 32 × 32 tiles.
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [1, 37, 67, 0.5],
    [2, 7, 12, 0.5],
    [33, 37, 67, 0.5],
    [5, 9, 100, 1],
    [3, 13, 45, 0.1],
    [4, 6, 33, 0],
    [70, 131, 64, 0.5],
    [37, 3, 257, 0.9],
  ];

  for (const [label, which] of both) {
    it(`matches float64 at awkward shapes and sparsities, = and += (${label})`, async () => {
      const r = which();
      for (const [tokens, rows, cols, density] of shapes) {
        const seed = freshSeed();
        const random = new Random(seed);
        const dense = mixedRows(random, rows, cols, density);
        const x = random.uniform(tokens * cols);
        const y0 = random.uniform(tokens * rows);
        const w = await uploadBitmask(r, 'w', dense, rows, cols);
        const ref = matmulReference({ a: x, b: dense, m: tokens, n: rows, k: cols, transB: true });
        // Each entry is one invocation's serial sum over its row's stored products in column order:
        // (stored − 1) additions, each product rounded once, one more for += Y. Relative to
        // Σ|w||x| (+ |y0|), that is at most (stored + 2)·u for the row storing the most values.
        const bound = bitmaskMatmulBound(bitmaskMostStored(w)) * F32_EPS;
        const what = `${tokens} tokens × ${rows}×${cols} density ${density} seed ${seed} (${label})`;
        await expectAssignedAndAccumulated(r, { x, y0, ref, bound, what }, (io) =>
          bitmaskMatmul(r, { weights: w, tokens, ...io }),
        );
        if (r === tiny() && tokens * cols > 448) {
          const blocks = bitmaskMatmulBlocks(r, w, tokens);
          expect(blocks.tokens, `${what}: X is split into blocks of tokens`).toBeLessThan(tokens);
        }
        w.destroy();
      }
    });

    it(`reads X and writes Y at offsets inside larger buffers, leaving the rest alone (${label})`, async () => {
      const r = which();
      const seed = freshSeed();
      const random = new Random(seed);
      const [tokens, rows, cols] = [9, 41, 70];
      const [offsetX, offsetY] = [13, 29];
      const dense = mixedRows(random, rows, cols, 0.5);
      const w = await uploadBitmask(r, 'w', dense, rows, cols);
      const x = random.uniform(tokens * cols);
      const xPadded = new Float32Array(offsetX + tokens * cols + 5).fill(Number.NaN);
      xPadded.set(x, offsetX);
      const yStart = random.uniform(offsetY + tokens * rows + 7);
      const y = await scratch(r, yStart);
      await bitmaskMatmul(r, {
        weights: w,
        x: await scratch(r, xPadded),
        y,
        tokens,
        offsetX,
        offsetY,
        accumulate: true,
      });
      const out = await r.readF32(y);
      const ref = matmulReference({ a: x, b: dense, m: tokens, n: rows, k: cols, transB: true });
      const y0 = yStart.subarray(offsetY, offsetY + tokens * rows);
      const bound = bitmaskMatmulBound(bitmaskMostStored(w)) * F32_EPS;
      expect(
        relativeError(out.subarray(offsetY, offsetY + tokens * rows), plusAccumulated(ref, y0)),
        `seed ${seed}`,
      ).toBeLessThanOrEqual(bound);
      expect(Array.from(out.subarray(0, offsetY)), `before Y, seed ${seed}`).toEqual(
        Array.from(yStart.subarray(0, offsetY)),
      );
      expect(Array.from(out.subarray(offsetY + tokens * rows)), `after Y, seed ${seed}`).toEqual(
        Array.from(yStart.subarray(offsetY + tokens * rows)),
      );
      w.destroy();
    });
  }

  it('cuts row blocks where their values would not fit a binding', async () => {
    const small = tiny();
    const seed = freshSeed();
    const random = new Random(seed);
    // 2 KiB bindings hold 448 elements: 130 full rows of 40 columns store 5200 values, so the row
    // blocks that X, Y and the mask allow are cut until each holds at most 448 values.
    const [rows, cols] = [131, 40];
    const dense = mixedRows(random, rows, cols, 1);
    const w = await uploadBitmask(small, 'w', dense, rows, cols);
    const { rows: blocks } = bitmaskMatmulBlocks(small, w, 8);
    expect(blocks.length).toBeGreaterThan(1);
    expect(blocks[0]?.[0]).toBe(0);
    expect(blocks.at(-1)?.[1]).toBe(rows);
    for (const [i, [r0, r1]] of blocks.entries()) {
      if (i > 0) expect(r0, 'blocks are contiguous').toBe(blocks[i - 1]?.[1]);
      const values = (w.hostRowOffsets[r1] as number) - (w.hostRowOffsets[r0] as number);
      expect(values, `block ${r0}–${r1} seed ${seed}`).toBeLessThanOrEqual(448);
    }
    w.destroy();
  });

  it('refuses a row wider than a binding and names bad arguments', async () => {
    const [rt, small] = [full(), tiny()];
    const random = new Random(freshSeed());
    const wide = await uploadBitmask(small, 'wide', randomUnstructuredDense(random, 2, 1000, 0.5), 2, 1000);
    expect(() => bitmaskMatmulBlocks(small, wide, 3)).toThrow(GpuLimitError);
    expect(() => bitmaskMatmulBlocks(small, wide, 3)).toThrow(/bitmaskMatmul: a row of wide \(1000 columns/);
    wide.destroy();
    const w = await uploadBitmask(rt, 'w', randomUnstructuredDense(random, 4, 8, 0.5), 4, 8);
    const x = await scratch(rt, random.uniform(16));
    await expect(bitmaskMatmul(rt, { weights: w, x, y: x, tokens: 2 })).rejects.toThrow(
      /y must be a different buffer from x/,
    );
    await expect(bitmaskMatmul(rt, { weights: w, x, y: await poisoned(rt, 8), tokens: 3 })).rejects.toThrow(
      /bitmaskMatmul: x \(3×8/,
    );
    await expect(bitmaskMatmul(rt, { weights: w, x, y: await poisoned(rt, 7), tokens: 2 })).rejects.toThrow(
      /bitmaskMatmul: y \(2×4/,
    );
    await expect(bitmaskMatmul(rt, { weights: w, x, y: await poisoned(rt, 8), tokens: 0 })).rejects.toThrow(
      /tokens must be an integer ≥ 1/,
    );
    w.destroy();
  });

  it('is what sparseLinear runs for a bitmask W over several tokens: one dispatch, not one per token', async () => {
    const rt = full();
    const random = new Random(freshSeed());
    const [tokens, rows, cols] = [6, 19, 40];
    const w = await uploadBitmask(rt, 'w', randomUnstructuredDense(random, rows, cols, 0.5), rows, cols);
    const x = await scratch(rt, random.uniform(tokens * cols));
    const y = await poisoned(rt, tokens * rows);
    const viaLinear = await sparseLinearDispatches(rt, { weights: w, x, y, tokens });
    const direct = await bitmaskMatmulDispatches(rt, { weights: w, x, y, tokens });
    expect(viaLinear).toHaveLength(1);
    expect(viaLinear[0]?.pipeline).toBe(direct[0]?.pipeline);
    w.destroy();
  });
});
