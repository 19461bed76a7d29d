// Which of the two matmul kernels a product runs on. Both compute the same thing with the same
// operands (matmul.ts builds one plan and one set of uniforms for either):
//
// - 'tiled' (matmul.wgsl): 64×64 tiles of C from panels staged in workgroup memory, two barriers
//   per 16 steps of k. Made for GPUs, where workgroup memory is fast and barriers cheap.
// - 'direct' (matmulDirect.wgsl): 32×32 tiles, each of 16 invocations an 8×8 register block read
//   straight from the storage buffers, no workgroup memory and no barrier.
//
// The rule: a CPU adapter (the fallback adapter, SwiftShader here) gets 'direct' for every shape,
// anything else gets 'tiled'. On SwiftShader a workgroup runs on one thread and each barrier
// switches between all of its emulated invocations, so the direct kernel was faster at every
// shape measured, the model's tiny products most of all (bench/README.md, "CPU adapter: the direct
// matmul"). No GPU has measured the direct kernel, so GPUs keep the kernel made for them.

import type { GpuRuntime } from '../gpu/runtime';

export type MatmulKernel = 'tiled' | 'direct';

export const MATMUL_KERNELS: readonly MatmulKernel[] = ['tiled', 'direct'];

/** The side of the square tile of C one workgroup of each kernel computes (the planner's unit). */
export const MATMUL_TILE: Record<MatmulKernel, number> = { tiled: 64, direct: 32 };

/** The kernel a product runs on when its caller does not name one. */
export function chooseMatmulKernel(rt: Pick<GpuRuntime, 'capability'>): MatmulKernel {
  return rt.capability.isFallbackAdapter ? 'direct' : 'tiled';
}
