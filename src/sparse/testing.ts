// What the sparse kernels' tests share: a dense matrix put on the GPU in either format, and the check
// that a kernel writes y = W·x (or Y = X·Wᵀ) and, asked to, accumulates onto y instead, both within
// the kernel's bound of the float64 reference.

import { expect } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { type Reference, relativeError } from '../kernels/reference';
import { poisoned, scratch } from '../kernels/testing';
import { encodeBitmask } from './bitmaskFormat';
import { encodeNm } from './nmFormat';
import { type BitmaskOnGpu, type NmOnGpu, uploadCompressed } from './upload';

/** A dense row-major rows × cols matrix on the GPU as a bitmask matrix named `name`. */
export async function uploadBitmask(
  rt: GpuRuntime,
  name: string,
  dense: Float32Array,
  rows: number,
  cols: number,
): Promise<BitmaskOnGpu> {
  return (await uploadCompressed(rt, encodeBitmask(name, dense, rows, cols), name)) as BitmaskOnGpu;
}

/** A dense row-major rows × cols matrix, n of every m entries kept, on the GPU as N:M named `name`. */
export async function uploadNm(
  rt: GpuRuntime,
  name: string,
  dense: Float32Array,
  shape: { rows: number; cols: number; n: number; m: number },
): Promise<NmOnGpu> {
  const { rows, cols, n, m } = shape;
  return (await uploadCompressed(rt, encodeNm(name, dense, rows, cols, n, m), name)) as NmOnGpu;
}

/** ref + y0 (what a kernel accumulating into y0 must produce), its scale grown by |y0|. */
export function plusAccumulated(ref: Reference, y0: Float32Array): Reference {
  return {
    value: ref.value.map((v, i) => v + (y0[i] as number)),
    scale: ref.scale.map((s, i) => s + Math.abs(y0[i] as number)),
  };
}

/** The buffers a sparse kernel reads and writes, and whether it adds to y. */
export interface SparseIo {
  x: GPUBuffer;
  y: GPUBuffer;
  accumulate: boolean;
}

/**
 * Runs `kernel` on x twice: into a NaN-poisoned y, expecting `ref`, and accumulating onto y0,
 * expecting ref + y0, both within `bound` (relative to the reference's scale).
 */
export async function expectAssignedAndAccumulated(
  rt: GpuRuntime,
  check: { x: Float32Array; y0: Float32Array; ref: Reference; bound: number; what: string },
  kernel: (io: SparseIo) => Promise<void>,
): Promise<void> {
  const { x, y0, ref, bound, what } = check;
  const y = await poisoned(rt, y0.length);
  await kernel({ x: await scratch(rt, x), y, accumulate: false });
  expect(relativeError(await rt.readF32(y), ref), what).toBeLessThanOrEqual(bound);
  const yAcc = await scratch(rt, y0);
  await kernel({ x: await scratch(rt, x), y: yAcc, accumulate: true });
  expect(relativeError(await rt.readF32(yAcc), plusAccumulated(ref, y0)), `${what} +=`).toBeLessThanOrEqual(
    bound,
  );
}
