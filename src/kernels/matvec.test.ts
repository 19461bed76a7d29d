import { describe, expect, it } from 'vitest';
import { withKernelRuntimes } from '../host/testRuntimes';
import { directReadsVec4, matvec, matvecBlocks, matvecBound } from './matvec';
import { MATVEC_KERNELS } from './matvecKernel';
import { freshSeed, Random } from './random';
import { F32_EPS, matmulReference, relativeError } from './reference';
import { poisoned, scratch } from './testing';

describe('matvec', () => {
  // 2 KiB bindings hold 448 elements: G is split into blocks of rows, and rows longer than 448
  // into column blocks that add to y; 3 workgroups per dimension fold the row grid.
  const { full, tiny, both } = withKernelRuntimes();

  const shapes: [number, number][] = [
    [1, 1],
    [1, 37],
    [37, 1],
    [13, 129],
    [64, 64],
    [7, 500],
    [131, 67],
    // The direct kernel's 8 rows an invocation and 512 a workgroup: a partial last invocation
    // and a second workgroup.
    [517, 9],
  ];
  for (const [label, which] of both) {
    for (const kernel of MATVEC_KERNELS) {
      it(`y = A·x, x_rows⊙y and y = Aᵀ·x match float64 at awkward shapes (${kernel} kernel, ${label})`, async () => {
        const r = which();
        for (const [rows, cols] of shapes) {
          const seed = freshSeed();
          const random = new Random(seed);
          const a = random.uniform(rows * cols);
          const x = random.uniform(cols);
          const xRows = random.uniform(rows);
          const y = await poisoned(r, rows);
          const out = await poisoned(r, rows);
          await matvec(r, {
            a: await scratch(r, a),
            x: await scratch(r, x),
            y,
            rows,
            cols,
            dots: { xRows: await scratch(r, xRows), out },
            kernel,
          });
          const ref = matmulReference({ a, b: x, m: rows, n: 1, k: cols });
          // Each row: one invocation's serial additions (⌈c/128⌉ then 7 tree levels, or the whole
          // row), one addition per later column block, then the product with x_rows: each a unit
          // roundoff of Σ|a||x|.
          const blocks = Math.ceil(cols / matvecBlocks(r, rows, cols).cols);
          const bound = matvecBound(kernel, cols, blocks) * F32_EPS;
          expect(relativeError(await r.readF32(y), ref), `${rows}×${cols} seed ${seed}`).toBeLessThanOrEqual(
            bound,
          );
          const dots = {
            value: ref.value.map((v, i) => v * (xRows[i] as number)),
            scale: ref.scale.map((s, i) => s * Math.abs(xRows[i] as number)),
          };
          expect(
            relativeError(await r.readF32(out), dots),
            `${rows}×${cols} seed ${seed}`,
          ).toBeLessThanOrEqual(bound);
          // Without dots, y alone.
          const y2 = await poisoned(r, rows);
          await matvec(r, { a: await scratch(r, a), x: await scratch(r, x), y: y2, rows, cols, kernel });
          expect(relativeError(await r.readF32(y2), ref), `${rows}×${cols} seed ${seed}`).toBeLessThanOrEqual(
            bound,
          );
          // y = Aᵀ·x: each column's rows serially, plus one addition per later row block.
          const xt = random.uniform(rows);
          const yt = await poisoned(r, cols);
          await matvec(r, {
            a: await scratch(r, a),
            x: await scratch(r, xt),
            y: yt,
            rows,
            cols,
            transpose: true,
          });
          const refT = matmulReference({ a, b: xt, m: cols, n: 1, k: rows, transA: true });
          const rowBlocks = Math.ceil(rows / matvecBlocks(r, rows, cols).rows);
          expect(
            relativeError(await r.readF32(yt), refT),
            `Aᵀx ${rows}×${cols} seed ${seed}`,
          ).toBeLessThanOrEqual((rows + rowBlocks) * F32_EPS);
        }
      });
    }
  }

  // The direct kernel's vec4 form (cols a multiple of 4): rows not a multiple of 8, cols not a
  // multiple of 8 or 16, windows that start mid-binding (row blocks of 131 × 68 under 2 KiB) and
  // rows split into column blocks that add to y (3 × 1000: 448 + 448 + 104).
  const vec4Shapes: [number, number][] = [
    [45, 12],
    [517, 36],
    [131, 68],
    [3, 1000],
  ];
  for (const [label, which] of both) {
    it(`the direct kernel's vec4 form matches float64 within ⌈c/4⌉ + 3 serial additions (${label})`, async () => {
      const r = which();
      for (const [rows, cols] of vec4Shapes) {
        expect(directReadsVec4(cols, r.limits.minStorageBufferOffsetAlignment)).toBe(true);
        const seed = freshSeed();
        const random = new Random(seed);
        const a = random.uniform(rows * cols);
        const x = random.uniform(cols);
        const xRows = random.uniform(rows);
        const y = await poisoned(r, rows);
        const out = await poisoned(r, rows);
        const args = {
          a: await scratch(r, a),
          x: await scratch(r, x),
          rows,
          cols,
          kernel: 'direct',
        } as const;
        await matvec(r, { ...args, y, dots: { xRows: await scratch(r, xRows), out } });
        const ref = matmulReference({ a, b: x, m: rows, n: 1, k: cols });
        // Per column block of c: 4 partial sums of c/4 products, their sum (3 additions), one
        // addition per later column block, the products' rounding and x_rows·y's.
        const block = matvecBlocks(r, rows, cols).cols;
        const blocks = Math.ceil(cols / block);
        const bound = (Math.ceil(block / 4) + 3 + blocks + 1) * F32_EPS;
        expect(relativeError(await r.readF32(y), ref), `${rows}×${cols} seed ${seed}`).toBeLessThanOrEqual(
          bound,
        );
        const dots = {
          value: ref.value.map((v, i) => v * (xRows[i] as number)),
          scale: ref.scale.map((s, i) => s * Math.abs(xRows[i] as number)),
        };
        expect(relativeError(await r.readF32(out), dots), `${rows}×${cols} seed ${seed}`).toBeLessThanOrEqual(
          bound,
        );
        const y2 = await poisoned(r, rows);
        await matvec(r, { ...args, y: y2 });
        expect(relativeError(await r.readF32(y2), ref), `${rows}×${cols} seed ${seed}`).toBeLessThanOrEqual(
          bound,
        );
      }
    });
  }

  it('reads vec4 only when every window is whole vec4s', () => {
    expect(directReadsVec4(36, 256)).toBe(true);
    // Odd widths and widths of 2 mod 4 keep the scalar kernel (the awkward shapes above).
    expect(directReadsVec4(67, 256)).toBe(false);
    expect(directReadsVec4(9, 256)).toBe(false);
    expect(directReadsVec4(38, 256)).toBe(false);
    // Column blocks of a row of 1000 under 2 KiB bindings end on multiples of 4.
    expect(matvecBlocks(tiny(), 3, 1000).cols % 4).toBe(0);
  });

  it('splits a 7 × 500 matrix into column blocks under 2 KiB bindings', () => {
    expect(matvecBlocks(tiny(), 7, 500).cols).toBeLessThan(500);
    expect(matvecBlocks(tiny(), 131, 67).rows).toBeLessThan(131);
  });

  it('names the argument that is wrong', async () => {
    const rt = full();
    const a = await scratch(rt, new Float32Array(12));
    const x = await scratch(rt, new Float32Array(4));
    const y = await scratch(rt, new Float32Array(3));
    await expect(matvec(rt, { a, x, y, rows: 4, cols: 4 })).rejects.toThrow(/matvec: a needs 64 bytes/);
    await expect(matvec(rt, { a, x, y: x, rows: 3, cols: 4 })).rejects.toThrow(
      /y must be a different buffer/,
    );
    await expect(matvec(rt, { a, x, y, rows: 0, cols: 4 })).rejects.toThrow(/rows = 0/);
    await expect(matvec(rt, { a, x, y, rows: 3, cols: 4, kernel: 'tree' as 'direct' })).rejects.toThrow(
      /matvec: no kernel named tree/,
    );
  });
});
