// The sparse counterpart of a dense linear layer's product Y = X·Wᵀ (blockForward's linearLayer),
// for a forward pass that keeps its pruned matrices compressed: one token takes the memory-bound
// matrix–vector kernel of W's format; more tokens take nmMatmul for N:M, and for the bitmask format
// the matrix–vector kernel once per token (no unstructured matrix–matrix kernel yet: it re-reads W
// per token). The bias, when the layer has one, is added by the caller as for the dense product.

import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { checkInteger } from '../kernels/operands';
import { bitmaskMatvecDispatches } from './bitmaskMatvec';
import { nmMatmulDispatches } from './nmMatmul';
import { nmMatvecDispatches } from './nmMatvec';
import type { CompressedMatrixOnGpu } from './upload';

export interface SparseLinearArgs {
  weights: CompressedMatrixOnGpu;
  /** tokens × weights.cols inputs, row-major. */
  x: GPUBuffer;
  /** tokens × weights.rows outputs, row-major. */
  y: GPUBuffer;
  tokens: number;
  /** Where Y starts in y, in elements (a KV cache's rows). */
  offsetY?: number;
  /** Y += X·Wᵀ instead of Y = X·Wᵀ. */
  accumulate?: boolean;
}

export async function sparseLinearDispatches(rt: GpuRuntime, args: SparseLinearArgs): Promise<Dispatch[]> {
  const { weights: w, x, y, tokens, accumulate } = args;
  const offsetY = args.offsetY ?? 0;
  checkInteger('sparseLinear', 'tokens', tokens, 1);
  if (w.format === 'nm') {
    return tokens === 1
      ? nmMatvecDispatches(rt, { weights: w, x, y, offsetY, accumulate })
      : nmMatmulDispatches(rt, { weights: w, x, y, tokens, offsetY, accumulate });
  }
  const dispatches: Dispatch[] = [];
  for (let t = 0; t < tokens; t++)
    dispatches.push(
      ...(await bitmaskMatvecDispatches(rt, {
        weights: w,
        x,
        y,
        offsetX: t * w.cols,
        offsetY: offsetY + t * w.rows,
        accumulate,
      })),
    );
  return dispatches;
}

export async function sparseLinear(rt: GpuRuntime, args: SparseLinearArgs): Promise<void> {
  rt.submit(await sparseLinearDispatches(rt, args));
}
