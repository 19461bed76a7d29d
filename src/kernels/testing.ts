// What the kernel tests share: host arrays uploaded as scratch buffers, and outputs poisoned with
// NaN, so that an element a kernel never writes cannot pass for a right answer.

import type { GpuRuntime } from '../gpu/runtime';

/** `data` in a new scratch buffer of `rt`. */
export async function scratch(rt: GpuRuntime, data: Float32Array | Uint32Array): Promise<GPUBuffer> {
  return (await rt.upload('test scratch', 'scratch', data)).buffer;
}

/** A scratch buffer of n f32 NaNs, for a kernel's output. */
export function poisoned(rt: GpuRuntime, n: number): Promise<GPUBuffer> {
  return scratch(rt, new Float32Array(n).fill(Number.NaN));
}
