// The arguments both sparse matrix–vector kernels take (nmMatvec, bitmaskMatvec) and their checks.

import type { MatvecKernel } from '../kernels/matvecKernel';
import { checkDistinct, checkInteger } from '../kernels/operands';

export interface SparseMatvecArgs<W> {
  weights: W;
  /** cols elements from offsetX. */
  x: GPUBuffer;
  /** rows elements from offsetY. */
  y: GPUBuffer;
  offsetX?: number;
  offsetY?: number;
  /** y += W·x instead of y = W·x. */
  accumulate?: boolean;
  /** Which kernel runs the product; default: the adapter's (kernels/matvecKernel.ts). Tests name both. */
  kernel?: MatvecKernel;
}

/** Throws unless x and y hold the vectors the product needs and y is a buffer of its own. */
export function checkVectors(
  kernel: string,
  rows: number,
  cols: number,
  args: SparseMatvecArgs<unknown>,
  weightBuffers: [string, GPUBuffer][],
): void {
  const offsetX = args.offsetX ?? 0;
  const offsetY = args.offsetY ?? 0;
  checkInteger(kernel, 'offsetX', offsetX);
  checkInteger(kernel, 'offsetY', offsetY);
  for (const [name, buffer, count] of [
    ['x', args.x, offsetX + cols],
    ['y', args.y, offsetY + rows],
  ] as const) {
    if (buffer.size < 4 * count)
      throw new RangeError(
        `${kernel}: ${name} needs ${4 * count} bytes, "${buffer.label}" has ${buffer.size}`,
      );
  }
  checkDistinct(kernel, ['y', args.y], ['x', args.x], ...weightBuffers);
}
