// Elementwise vector kernels: axpy (y ← a·x + y), scale (x ← a·x) and soft-threshold
// (y ← sign(x)·max(|x| − τ, 0)), each one windowed pass (kernels/windowedPass.ts).

import shader from '../../shaders/kernels/elementwise.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { type PassOperand, windowedPassDispatches } from './windowedPass';

const kernel = defineKernel({
  name: 'elementwise',
  code: shader,
  entryPoints: ['axpy', 'scale', 'soft_threshold'],
  uniforms: {
    n: 'u32',
    off_x: 'u32',
    off_y: 'u32',
    a: 'f32',
  },
});

/** A vector: n elements of a buffer starting at an element offset. */
export type VectorRef = Pick<PassOperand, 'buffer' | 'offset'>;

export async function axpy(rt: GpuRuntime, n: number, a: number, x: VectorRef, y: VectorRef): Promise<void> {
  rt.submit(await elementwiseDispatches(rt, 'axpy', n, a, [x, y]));
}

export async function scale(rt: GpuRuntime, n: number, a: number, x: VectorRef): Promise<void> {
  rt.submit(await elementwiseDispatches(rt, 'scale', n, a, [x]));
}

export async function softThreshold(
  rt: GpuRuntime,
  n: number,
  tau: number,
  x: VectorRef,
  y: VectorRef,
): Promise<void> {
  if (!(tau >= 0)) throw new RangeError(`soft-threshold τ must be ≥ 0, got ${tau}`);
  rt.submit(await elementwiseDispatches(rt, 'soft_threshold', n, tau, [x, y]));
}

export async function elementwiseDispatches(
  rt: GpuRuntime,
  entryPoint: 'axpy' | 'scale' | 'soft_threshold',
  n: number,
  a: number,
  vectors: readonly PassOperand[],
): Promise<Dispatch[]> {
  const pipeline = await kernel.pipeline(rt, entryPoint);
  return windowedPassDispatches(rt, {
    name: entryPoint,
    pipeline,
    count: n,
    operands: vectors,
    block: 256,
    uniforms: ({ count, bases }) => kernel.pack({ n: count, off_x: bases[0] ?? 0, off_y: bases[1] ?? 0, a }),
  });
}
