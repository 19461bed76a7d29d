// The sparse kernels' cases for the kernel suite (src/kernels/suiteCase.ts), so the studio's kernel
// check proves them on the person's own GPU too: N:M and bitmask matrix–vector products on both
// kernels (kernels/matvecKernel.ts: the adapter runs one, both must be right), on short rows and
// long ones (a workgroup a row on the workgroup kernel), and Y = X·Wᵀ for both formats,
// each against its float64 reference with the bound its wrapper states.

import type { GpuRuntime } from '../gpu/runtime';
import { MATVEC_KERNELS, type MatvecKernel } from '../kernels/matvecKernel';
import type { Random } from '../kernels/random';
import { F32_EPS, matmulReference } from '../kernels/reference';
import { Buffers, defineCase, type KernelCase } from '../kernels/suiteCase';
import { bitmaskWordsPerRow, encodeBitmask } from './bitmaskFormat';
import { bitmaskMatmul, bitmaskMatmulBound } from './bitmaskMatmul';
import { bitmaskMatvec, bitmaskMatvecBound } from './bitmaskMatvec';
import type { CompressedMatrix } from './compressed';
import { encodeNm, nmKeptPerRow } from './nmFormat';
import { nmMatmul } from './nmMatmul';
import { nmMatvec, nmMatvecBound } from './nmMatvec';
import { randomNmDense, randomUnstructuredDense } from './randomSparse';
import { type CompressedMatrixOnGpu, uploadCompressed } from './upload';

/** 'check' at the device's limits; 'tiled' small enough to split under a tiny binding limit. */
export function sparseKernelCases(size: 'check' | 'tiled' = 'check'): KernelCase[] {
  return size === 'tiled'
    ? [
        ...MATVEC_KERNELS.flatMap((kernel) => [
          nmMatvecCase(33, 20, kernel),
          nmMatvecCase(7, 264, kernel),
          bitmaskMatvecCase(9, 67, kernel),
          bitmaskMatvecCase(5, 300, kernel),
        ]),
        nmMatmulCase(5, 33, 20),
        bitmaskMatmulCase(5, 33, 20),
      ]
    : [
        ...MATVEC_KERNELS.flatMap((kernel) => [
          nmMatvecCase(131, 64, kernel),
          nmMatvecCase(37, 1024, kernel),
          bitmaskMatvecCase(131, 67, kernel),
          bitmaskMatvecCase(13, 600, kernel),
        ]),
        nmMatmulCase(7, 96, 64),
        bitmaskMatmulCase(37, 131, 67),
      ];
}

/** A case's random W (dense, as the reference reads it), its bound in unit roundoffs, and its encoding. */
interface SparseInputs {
  dense: Float32Array;
  bound: number;
  compressed: (dense: Float32Array) => CompressedMatrix;
}

/** Y = X·Wᵀ (tokens rows of X) for one compressed W, run by `kernel` into a NaN-poisoned Y. */
function sparseCase(
  name: string,
  shape: string,
  rows: number,
  cols: number,
  tokens: number,
  make: (random: Random) => SparseInputs,
  kernel: (rt: GpuRuntime, w: CompressedMatrixOnGpu, x: GPUBuffer, y: GPUBuffer) => Promise<void>,
): KernelCase {
  return defineCase(name, 'sparse', shape, async (rt, random) => {
    const buffers = new Buffers(rt);
    const { dense, bound, compressed } = make(random);
    const x = random.uniform(tokens * cols);
    const w = await uploadCompressed(rt, compressed(dense), 'kernel check W');
    const xBuf = await buffers.upload('x', x);
    const poison = new Float32Array(tokens * rows).fill(Number.NaN);
    const yBuf = await buffers.upload('y', poison);
    const again = () => kernel(rt, w, xBuf, yBuf);
    return {
      async check() {
        rt.write(yBuf, poison);
        await again();
        return rt.readF32(yBuf);
      },
      again,
      reference: matmulReference({ a: x, b: dense, m: tokens, n: rows, k: cols, transB: true }),
      bound: bound * F32_EPS,
      flops: 2 * tokens * dense.filter((v) => v !== 0).length,
      bytes: w.bytes + 4 * tokens * (cols + rows),
      free: () => {
        w.destroy();
        buffers.free();
      },
    };
  });
}

function nmMatvecCase(rows: number, cols: number, kernel: MatvecKernel): KernelCase {
  return sparseCase(
    `sparse W·x (2:4, ${kernel})`,
    `${rows}×${cols}`,
    rows,
    cols,
    1,
    (random) => ({
      dense: randomNmDense(random, rows, cols, 2, 4, true),
      bound: nmMatvecBound(nmKeptPerRow(cols, 2, 4), 2, kernel),
      compressed: (d) => encodeNm('W', d, rows, cols, 2, 4),
    }),
    (rt, w, x, y) =>
      nmMatvec(rt, { weights: w as Extract<CompressedMatrixOnGpu, { format: 'nm' }>, x, y, kernel }),
  );
}

function bitmaskMatvecCase(rows: number, cols: number, kernel: MatvecKernel): KernelCase {
  return sparseCase(
    `sparse W·x (bitmask 50%, ${kernel})`,
    `${rows}×${cols}`,
    rows,
    cols,
    1,
    (random) => ({
      dense: randomUnstructuredDense(random, rows, cols, 0.5),
      bound: bitmaskMatvecBound(bitmaskWordsPerRow(cols), kernel),
      compressed: (d) => encodeBitmask('W', d, rows, cols),
    }),
    (rt, w, x, y) =>
      bitmaskMatvec(rt, {
        weights: w as Extract<CompressedMatrixOnGpu, { format: 'bitmask' }>,
        x,
        y,
        kernel,
      }),
  );
}

function nmMatmulCase(tokens: number, rows: number, cols: number): KernelCase {
  return sparseCase(
    'sparse X·Wᵀ (2:4)',
    `${tokens} tokens × ${rows}×${cols}`,
    rows,
    cols,
    tokens,
    (random) => ({
      dense: randomNmDense(random, rows, cols, 2, 4, true),
      // One invocation adds a row's kept products in turn (nmMatmul.ts).
      bound: nmKeptPerRow(cols, 2, 4) + 2,
      compressed: (d) => encodeNm('W', d, rows, cols, 2, 4),
    }),
    (rt, w, x, y) =>
      nmMatmul(rt, { weights: w as Extract<CompressedMatrixOnGpu, { format: 'nm' }>, x, y, tokens }),
  );
}

function bitmaskMatmulCase(tokens: number, rows: number, cols: number): KernelCase {
  return sparseCase(
    'sparse X·Wᵀ (bitmask 50%)',
    `${tokens} tokens × ${rows}×${cols}`,
    rows,
    cols,
    tokens,
    (random) => ({
      dense: randomUnstructuredDense(random, rows, cols, 0.5),
      // One invocation adds a row's stored products in turn (bitmaskMatmul.ts); no row stores more
      // than cols.
      bound: bitmaskMatmulBound(cols),
      compressed: (d) => encodeBitmask('W', d, rows, cols),
    }),
    (rt, w, x, y) =>
      bitmaskMatmul(rt, {
        weights: w as Extract<CompressedMatrixOnGpu, { format: 'bitmask' }>,
        x,
        y,
        tokens,
      }),
  );
}
