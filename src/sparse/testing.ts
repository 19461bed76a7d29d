// What the sparse kernels' tests share: every kernel writes y = W·x (or Y = X·Wᵀ) and, asked to,
// accumulates onto y instead, and both must meet the float64 reference within the kernel's bound.

import { expect } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { type Reference, relativeError } from '../kernels/reference';
import { poisoned, scratch } from '../kernels/testing';

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
