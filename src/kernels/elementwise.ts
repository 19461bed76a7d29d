// Elementwise vector kernels: axpy (y ← a·x + y), scale (x ← a·x) and soft-threshold
// (y ← sign(x)·max(|x| − τ, 0)). Vectors longer than one storage binding are processed in windows.

import shader from '../../shaders/kernels/elementwise.wgsl?raw';
import type { Binding, Dispatch, GpuRuntime } from '../gpu/runtime';
import { foldGrid, packParams } from './params';
import { bindWindow, windowCapacity } from './window';

/** A vector: n elements of a buffer starting at an element offset. */
export interface VectorRef {
  buffer: GPUBuffer;
  offset?: number;
}

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
  vectors: readonly VectorRef[],
): Promise<Dispatch[]> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${entryPoint}: length ${n} is invalid`);
  for (const v of vectors) {
    const end = ((v.offset ?? 0) + n) * 4;
    if (end > v.buffer.size) {
      throw new RangeError(
        `${entryPoint}: ${n} elements from ${v.offset ?? 0} overrun "${v.buffer.label}" (${v.buffer.size} bytes)`,
      );
    }
  }
  const pipeline = await rt.pipeline({ name: 'elementwise', code: shader, entryPoint });
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const capacity = windowCapacity(rt.limits.maxStorageBufferBindingSize, align);
  const dispatches: Dispatch[] = [];
  for (let start = 0; start < n; start += capacity) {
    const count = Math.min(capacity, n - start);
    const windows = vectors.map((v) => bindWindow(v.buffer, (v.offset ?? 0) + start, count, align));
    const bases = windows.map((w) => w.base);
    dispatches.push({
      pipeline,
      uniforms: packParams([
        ['u32', count],
        ['u32', bases[0] ?? 0],
        ['u32', bases[1] ?? 0],
        ['f32', a],
      ]),
      storage: windows.map((w): Binding => w.binding),
      workgroups: foldGrid(Math.ceil(count / 256), rt.limits.maxComputeWorkgroupsPerDimension),
    });
  }
  return dispatches;
}
