// Gram accumulation G += alpha · XᵀX over a chunk of tokens: X is tokens × width (one activation
// row per token), G is width × width. Every pruner's statistic (FISTAPruner's X Xᵀ, SparseGPT's
// Hessian, Wanda's column norms on its diagonal) is accumulated this way, chunk by chunk, so memory
// is bounded by one chunk, never by the number of calibration tokens.

import type { GpuRuntime } from '../gpu/runtime';
import { matmul } from './matmul';
import type { MatmulKernel } from './matmulKernel';

export interface GramArgs {
  x: GPUBuffer;
  /** Rows of X in this chunk (tokens). */
  rows: number;
  /** Columns of X (features) = the order of G. */
  width: number;
  g: GPUBuffer;
  /** Leading dimension of X, in elements; defaults to width. */
  ldx?: number;
  offsetX?: number;
  alpha?: number;
  /** The matmul kernel to run; default: the adapter's (matmulKernel.ts). */
  kernel?: MatmulKernel;
}

export async function accumulateGram(rt: GpuRuntime, args: GramArgs): Promise<void> {
  const ldx = args.ldx ?? args.width;
  // Only the upper triangle of tiles is computed and mirrored; when G is too large for one
  // binding, the product is split into windows and every tile is computed (the planner's choice).
  await matmul(rt, {
    a: args.x,
    b: args.x,
    c: args.g,
    m: args.width,
    n: args.width,
    k: args.rows,
    transA: true,
    lda: ldx,
    ldb: ldx,
    offsetA: args.offsetX ?? 0,
    offsetB: args.offsetX ?? 0,
    alpha: args.alpha ?? 1,
    beta: 1,
    symmetric: true,
    kernel: args.kernel,
  });
}
