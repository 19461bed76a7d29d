import { describe, expect, it } from 'vitest';
import { GpuLimitError } from '../gpu/errors';
import { withKernelRuntimes } from '../host/testRuntimes';
import { MATVEC_KERNELS } from '../kernels/matvecKernel';
import { freshSeed, Random } from '../kernels/random';
import { F32_EPS, matmulReference, relativeError } from '../kernels/reference';
import { poisoned, scratch } from '../kernels/testing';
import { bitmaskBytes, bitmaskWordsPerRow, encodeBitmask } from './bitmaskFormat';
import { bitmaskMatvec, bitmaskMatvecBlocks, bitmaskMatvecBound } from './bitmaskMatvec';
import { encodeNm, nmBytes, nmKeptPerRow } from './nmFormat';
import { nmMatmul, nmMatmulBlocks } from './nmMatmul';
import { nmMatvec, nmMatvecBound, nmMatvecRows } from './nmMatvec';
import { randomNmDense, randomUnstructuredDense } from './randomSparse';
import { sparseLinear } from './sparseLinear';
import { expectAssignedAndAccumulated, uploadBitmask, uploadNm } from './testing';
import { type NmOnGpu, uploadCompressed } from './upload';

describe('sparse kernels', () => {
  // 2 KiB bindings hold 448 elements and 3 workgroups per dimension fold the grid: W is split into
  // blocks of rows (and nmMatmul's X and Y into blocks of tokens).
  const { full, tiny, both } = withKernelRuntimes();

  for (const [label, which] of both) {
    for (const kernel of MATVEC_KERNELS) {
      it(`N:M y = W·x matches float64 at awkward shapes (${kernel} kernel, ${label})`, async () => {
        const r = which();
        for (const [rows, cols, n, m] of [
          [1, 4, 2, 4],
          [7, 12, 2, 4],
          [33, 20, 2, 4],
          [131, 64, 2, 4],
          [5, 48, 4, 8],
          [9, 30, 1, 5],
          [4, 96, 5, 16],
          [3, 400, 2, 4],
          [2, 256, 2, 4],
          [70, 264, 2, 4],
          // 67 rows: a partial last invocation of the 2:4 direct kernel; 3:4 and 4:8 (10 indices a
          // word, 2 words a row here) on the general direct kernel (4 rows an invocation).
          [67, 8, 2, 4],
          [6, 12, 3, 4],
          [5, 24, 4, 8],
          // 3:4 over 24 columns keeps 18 a row: group 5's indices straddle the row's two index
          // words; 1:4 keeps one of four. Both take nm_matvec_direct, not the 2:4 kernel.
          [131, 24, 3, 4],
          [13, 72, 1, 4],
          // The 2:4 direct kernel (nm_matvec_direct_24, nmMatvec24.wgsl): 8 rows an invocation,
          // 128 a workgroup, a group's values read as one vec2; 131 rows end in a partial
          // invocation of a second workgroup, 36 columns in a partial index word (18 kept values),
          // and 256 columns in 8 whole words; 100 columns are 3 whole words and one group, 392 are
          // 12 and two groups (2 rows a block under 2 KiB bindings, so blocks start at odd rows).
          [131, 36, 2, 4],
          [9, 256, 2, 4],
          [75, 100, 2, 4],
          [21, 392, 2, 4],
        ] as const) {
          const seed = freshSeed();
          const random = new Random(seed);
          const dense = randomNmDense(random, rows, cols, n, m, true);
          const x = random.uniform(cols);
          const y0 = random.uniform(rows);
          const w = await uploadNm(r, 'w', dense, { rows, cols, n, m });
          const ref = matmulReference({ a: dense, b: x, m: rows, n: 1, k: cols });
          // On the direct kernel every row, and on the workgroup kernel short rows (at most
          // NM_SHORT_ROW_KEPT kept: 2×256 and 70×264 are either side), are summed serially by one
          // invocation; longer ones by 128 invocations and a 7-level tree.
          const bound = nmMatvecBound(nmKeptPerRow(cols, n, m), n, kernel) * F32_EPS;
          const what = `${rows}×${cols} ${n}:${m} seed ${seed}`;
          await expectAssignedAndAccumulated(r, { x, y0, ref, bound, what }, (io) =>
            nmMatvec(r, { weights: w, ...io, kernel }),
          );
          w.destroy();
        }
        expect(nmMatvecRows(tiny(), { kept: 32, words: 2, rows: 131 } as NmOnGpu)).toBeLessThan(131);
      });

      it(`bitmask y = W·x matches float64 at awkward shapes and densities (${kernel} kernel, ${label})`, async () => {
        const r = which();
        const shapes: [number, number, number][] = [
          [1, 1, 1],
          [7, 12, 0.5],
          [33, 20, 0.5],
          [131, 67, 0.3],
          [6, 40, 0],
          [3, 400, 0.5],
          [70, 256, 0.5],
          [2, 257, 0.6],
          // More rows than one workgroup of the direct kernel's (64), the last partial.
          [67, 33, 0.9],
        ];
        // 4500 columns = 141 mask words: invocations own runs of 2 words.
        if (r === full()) shapes.push([3, 4500, 0.5]);
        for (const [rows, cols, density] of shapes) {
          const seed = freshSeed();
          const random = new Random(seed);
          const dense = randomUnstructuredDense(random, rows, cols, density);
          const x = random.uniform(cols);
          const y0 = random.uniform(rows);
          const w = await uploadBitmask(r, 'w', dense, rows, cols);
          const ref = matmulReference({ a: dense, b: x, m: rows, n: 1, k: cols });
          // On the direct kernel every row, and on the workgroup kernel rows of at most
          // BITMASK_SHORT_ROW_WORDS words (256 columns: 70×256 and 2×257 are either side), are summed
          // serially by one invocation; longer ones by runs of words and a tree.
          const bound = bitmaskMatvecBound(bitmaskWordsPerRow(cols), kernel) * F32_EPS;
          const what = `${rows}×${cols} density ${density} seed ${seed}`;
          await expectAssignedAndAccumulated(r, { x, y0, ref, bound, what }, (io) =>
            bitmaskMatvec(r, { weights: w, ...io, kernel }),
          );
          if (r === tiny() && rows === 131) expect(bitmaskMatvecBlocks(r, w).length).toBeGreaterThan(1);
          w.destroy();
        }
      });
    }

    it(`N:M Y = X·Wᵀ matches float64 at awkward shapes (${label})`, async () => {
      const r = which();
      for (const [tokens, rows, cols, n, m] of [
        [2, 7, 12, 2, 4],
        [33, 33, 20, 2, 4],
        [70, 131, 64, 2, 4],
        [5, 9, 136, 2, 4],
        [3, 5, 48, 4, 8],
        [4, 9, 30, 1, 5],
        [6, 4, 96, 5, 16],
      ] as const) {
        const seed = freshSeed();
        const random = new Random(seed);
        const dense = randomNmDense(random, rows, cols, n, m, true);
        const x = random.uniform(tokens * cols);
        const y0 = random.uniform(tokens * rows);
        const w = await uploadNm(r, 'w', dense, { rows, cols, n, m });
        const ref = matmulReference({ a: x, b: dense, m: tokens, n: rows, k: cols, transB: true });
        // One invocation adds a row's kept products in turn: kept − 1 additions, one rounding of
        // each product, one for accumulating onto Y.
        const bound = (nmKeptPerRow(cols, n, m) + 2) * F32_EPS;
        const what = `${tokens} tokens × ${rows}×${cols} ${n}:${m} seed ${seed}`;
        await expectAssignedAndAccumulated(r, { x, y0, ref, bound, what }, (io) =>
          nmMatmul(r, { weights: w, tokens, ...io }),
        );
        w.destroy();
      }
      const blocks = nmMatmulBlocks(tiny(), { rows: 131, cols: 64, kept: 32, words: 2 } as NmOnGpu, 70);
      expect(blocks.t).toBeLessThan(70);
    });
  }

  it('sparseLinear picks the kernel by tokens and format and matches float64', async () => {
    const rt = full();
    const seed = freshSeed();
    const random = new Random(seed);
    const [rows, cols] = [19, 40];
    const nmDense = randomNmDense(random, rows, cols, 2, 4);
    const unDense = randomUnstructuredDense(random, rows, cols, 0.5);
    for (const [dense, matrix] of [
      [nmDense, encodeNm('nm', nmDense, rows, cols, 2, 4)],
      [unDense, encodeBitmask('un', unDense, rows, cols)],
    ] as const) {
      const weights = await uploadCompressed(rt, matrix, 'w');
      for (const tokens of [1, 3]) {
        const x = random.uniform(tokens * cols);
        const y = await poisoned(rt, tokens * rows);
        await sparseLinear(rt, { weights, x: await scratch(rt, x), y, tokens });
        const ref = matmulReference({ a: x, b: dense, m: tokens, n: rows, k: cols, transB: true });
        expect(
          relativeError(await rt.readF32(y), ref),
          `${matrix.format} ${tokens} seed ${seed}`,
        ).toBeLessThanOrEqual((cols + 9) * F32_EPS);
      }
      weights.destroy();
    }
  });

  it('uploads exactly the format’s bytes as weights in the ledger', async () => {
    const rt = full();
    const random = new Random(freshSeed());
    const before = rt.ledger.bytesIn('weights');
    const nm = await uploadCompressed(
      rt,
      encodeNm('q', randomNmDense(random, 12, 64, 2, 4), 12, 64, 2, 4),
      'q',
    );
    expect(rt.ledger.bytesIn('weights') - before).toBe(nmBytes(12, 64, 2, 4));
    expect(nm.bytes).toBe(nmBytes(12, 64, 2, 4));
    const matrix = encodeBitmask('k', randomUnstructuredDense(random, 10, 70, 0.5), 10, 70);
    const un = await uploadCompressed(rt, matrix, 'k');
    expect(un.bytes).toBe(bitmaskBytes(10, 70, matrix.values.length));
    nm.destroy();
    un.destroy();
    expect(rt.ledger.bytesIn('weights')).toBe(before);
    // Invalid arrays never reach the GPU.
    const bad = { ...matrix, rowOffsets: matrix.rowOffsets.slice() };
    bad.rowOffsets[3] = (bad.rowOffsets[3] as number) + 1;
    await expect(uploadCompressed(rt, bad, 'k')).rejects.toThrow(/k: row 2: its mask has/);
  });

  it('names the argument that is wrong and refuses rows wider than a binding', async () => {
    const [rt, small] = [full(), tiny()];
    const random = new Random(freshSeed());
    const w = await uploadNm(rt, 'w', randomNmDense(random, 4, 8, 2, 4), { rows: 4, cols: 8, n: 2, m: 4 });
    const x = await scratch(rt, random.uniform(8));
    await expect(nmMatvec(rt, { weights: w, x, y: x })).rejects.toThrow(
      /y must be a different buffer from x/,
    );
    await expect(
      nmMatvec(rt, { weights: w, x: await scratch(rt, random.uniform(4)), y: await poisoned(rt, 4) }),
    ).rejects.toThrow(/nmMatvec: x needs 32 bytes/);
    await expect(nmMatmul(rt, { weights: w, x, y: await poisoned(rt, 4), tokens: 2 })).rejects.toThrow(
      /nmMatmul: x \(2×8/,
    );
    await expect(sparseLinear(rt, { weights: w, x, y: await poisoned(rt, 4), tokens: 0 })).rejects.toThrow(
      /tokens must be an integer ≥ 1/,
    );
    w.destroy();
    const wide = await uploadBitmask(small, 'wide', randomUnstructuredDense(random, 2, 1000, 0.9), 2, 1000);
    expect(() => bitmaskMatvecBlocks(small, wide)).toThrow(GpuLimitError);
    wide.destroy();
  });
});
