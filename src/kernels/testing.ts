// What the kernel tests share: host arrays uploaded as scratch buffers, outputs poisoned with NaN
// (so that an element a kernel never writes cannot pass for a right answer), and what the tests of
// a kernel-choice rule need: an adapter's report and a runtime with buffers to dispatch on.

import { afterAll, beforeAll } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';

/** `data` in a new scratch buffer of `rt`. */
export async function scratch(rt: GpuRuntime, data: Float32Array | Uint32Array): Promise<GPUBuffer> {
  return (await rt.upload('test scratch', 'scratch', data)).buffer;
}

/** A scratch buffer of n f32 NaNs, for a kernel's output. */
export function poisoned(rt: GpuRuntime, n: number): Promise<GPUBuffer> {
  return scratch(rt, new Float32Array(n).fill(Number.NaN));
}

/** A runtime stand-in that has only what a kernel-choice rule reads: the adapter's report. */
export function adapterReport(isFallbackAdapter: boolean): Pick<GpuRuntime, 'capability'> {
  return { capability: { isFallbackAdapter } } as unknown as Pick<GpuRuntime, 'capability'>;
}

/**
 * For a describe block: a runtime and one scratch buffer of `bytes` per label, made before its
 * tests, for checking which kernel a wrapper dispatches and on what grid.
 */
export function withDispatchBuffers(
  labels: string[],
  bytes: number,
): { rt(): GpuRuntime; buffers(): GPUBuffer[] } {
  let made: GpuRuntime | undefined;
  let buffers: GPUBuffer[] = [];
  beforeAll(async () => {
    const rt = await createNodeRuntime();
    made = rt;
    buffers = await Promise.all(
      labels.map(async (label) => (await rt.createBuffer(label, 'scratch', bytes)).buffer),
    );
  });
  afterAll(() => made?.destroy());
  return { rt: () => made as GpuRuntime, buffers: () => buffers };
}
