// Backward of a linear layer y = x · Wᵀ + b with W stored out × in (PyTorch's layout, as the forward
// in model/blockForward.ts reads it with a transB product):
//   dW (+)= dyᵀ · x   (out × in: the matmul kernel's Aᵀ·B layout, a sum over the tokens)
//   db (+)= Σ_t dy[t, :]  (columnSum.ts: deterministic chunked sums)
//   dx (+)= dy · W    (rows × in)
// Parameter gradients accumulate across micro-batches with accumulateParams; the input gradient
// accumulates with accumulateInput when the input feeds several layers (q, k and v share theirs).

import type { GpuRuntime } from '../../gpu/runtime';
import { matmul } from '../../kernels/matmul';
import { checkDistinct, checkInteger, checkMatrix } from '../../kernels/operands';
import { columnSum } from './columnSum';

export interface LinearBackwardArgs extends BackwardPlacement {
  rows: number;
  inDim: number;
  outDim: number;
  /** The layer's input, rows × inDim (needed for dWeight). */
  x?: GPUBuffer;
  /** outDim × inDim (needed for dx). */
  weight?: GPUBuffer;
  /** The gradient of the output, rows × outDim. */
  dy: GPUBuffer;
  /** rows × inDim; computed when given. */
  dx?: GPUBuffer;
  /** outDim × inDim; computed when given. */
  dWeight?: GPUBuffer;
  /** outDim; computed when given. */
  dBias?: GPUBuffer;
  accumulateInput?: boolean;
  accumulateParams?: boolean;
}

/**
 * Where a layer's backward finds its operands (linearBackward, normBackward): the leading dimensions
 * of x, dy and dx (default: their widths) and the element offset of every operand (default 0).
 */
export interface BackwardPlacement {
  ldX?: number;
  ldDy?: number;
  ldDx?: number;
  offsetX?: number;
  offsetDy?: number;
  offsetDx?: number;
  offsetWeight?: number;
  offsetDWeight?: number;
  offsetDBias?: number;
}

export async function linearBackward(rt: GpuRuntime, args: LinearBackwardArgs): Promise<void> {
  const { rows, inDim, outDim } = args;
  const kernel = 'linearBackward';
  checkInteger(kernel, 'rows', rows);
  checkInteger(kernel, 'inDim', inDim, 1);
  checkInteger(kernel, 'outDim', outDim, 1);
  const ldX = args.ldX ?? inDim;
  const ldDy = args.ldDy ?? outDim;
  const ldDx = args.ldDx ?? inDim;
  const offDy = args.offsetDy ?? 0;
  checkMatrix(kernel, 'dy', args.dy, rows, outDim, ldDy, offDy);
  if (args.dWeight) {
    if (!args.x) throw new RangeError(`${kernel}: dWeight needs the layer's input x`);
    checkMatrix(kernel, 'x', args.x, rows, inDim, ldX, args.offsetX ?? 0);
    checkMatrix(kernel, 'dWeight', args.dWeight, outDim, inDim, inDim, args.offsetDWeight ?? 0);
    checkDistinct(kernel, ['dWeight', args.dWeight], ['x', args.x], ['dy', args.dy]);
  }
  if (args.dBias) {
    checkMatrix(kernel, 'dBias', args.dBias, 1, outDim, outDim, args.offsetDBias ?? 0);
    checkDistinct(kernel, ['dBias', args.dBias], ['dy', args.dy]);
  }
  if (args.dx) {
    if (!args.weight) throw new RangeError(`${kernel}: dx needs the weight`);
    checkMatrix(kernel, 'weight', args.weight, outDim, inDim, inDim, args.offsetWeight ?? 0);
    checkMatrix(kernel, 'dx', args.dx, rows, inDim, ldDx, args.offsetDx ?? 0);
    checkDistinct(kernel, ['dx', args.dx], ['weight', args.weight], ['dy', args.dy]);
  }
  const accumulateParams = args.accumulateParams ?? false;
  if (args.dWeight) {
    await matmul(rt, {
      a: args.dy,
      b: args.x as GPUBuffer,
      c: args.dWeight,
      m: outDim,
      n: inDim,
      k: rows,
      transA: true,
      lda: ldDy,
      ldb: ldX,
      offsetA: offDy,
      offsetB: args.offsetX ?? 0,
      offsetC: args.offsetDWeight ?? 0,
      beta: accumulateParams ? 1 : 0,
    });
  }
  if (args.dBias) {
    await columnSum(rt, {
      x: args.dy,
      rows,
      cols: outDim,
      ld: ldDy,
      offset: offDy,
      out: args.dBias,
      offsetOut: args.offsetDBias ?? 0,
      accumulate: accumulateParams,
    });
  }
  if (args.dx) {
    await matmul(rt, {
      a: args.dy,
      b: args.weight as GPUBuffer,
      c: args.dx,
      m: rows,
      n: inDim,
      k: outDim,
      lda: ldDy,
      ldc: ldDx,
      offsetA: offDy,
      offsetB: args.offsetWeight ?? 0,
      offsetC: args.offsetDx ?? 0,
      beta: args.accumulateInput ? 1 : 0,
    });
  }
}
