// The sparse counterpart of a dense linear layer's product Y = X·Wᵀ (blockForward's linearLayer),
// for a forward pass that keeps its pruned matrices compressed: one token (decode) takes the
// memory-bound matrix–vector kernel of W's format; more tokens (prefill, evaluation) take the
// format's matrix–matrix kernel, nmMatmul or bitmaskMatmul, which read W once per tile of 32 tokens
// rather than once per token. The bias, when the layer has one, is added by the caller as for the
// dense product.

import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { checkInteger } from '../kernels/operands';
import { bitmaskMatmulDispatches } from './bitmaskMatmul';
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
  return tokens === 1
    ? bitmaskMatvecDispatches(rt, { weights: w, x, y, offsetY, accumulate })
    : bitmaskMatmulDispatches(rt, { weights: w, x, y, tokens, offsetY, accumulate });
}

export async function sparseLinear(rt: GpuRuntime, args: SparseLinearArgs): Promise<void> {
  rt.submit(await sparseLinearDispatches(rt, args));
}
