// Which of the two norm kernels a normalization runs on. Both compute the same thing with the same
// operands, uniform block and bindings (norm.ts builds one set of each for either):
//
// - 'workgroup' (norm.wgsl): one workgroup per row, its invocations summing strided slices that a
//   tree of barriers combines. Made for GPUs, where a wide row wants many lanes and barriers are
//   cheap.
// - 'row' (normRow.wgsl): one invocation per row, four running sums in a vec4, no workgroup memory
//   and no barrier.
//
// The rule, as for the matmul (matmulKernel.ts): a CPU adapter (the fallback adapter, SwiftShader
// here) gets 'row', anything else 'workgroup'. On SwiftShader a workgroup runs on one thread and
// each barrier switches between all of its emulated invocations; the row kernel took the norm's
// share of an evaluation pass of stories260K from 9 % to 3 % (bench/README.md, "Issue 14: the
// evaluation's norm and attention on a CPU adapter"). No GPU has measured the row kernel, so GPUs
// keep the kernel made for them.

import type { GpuRuntime } from '../gpu/runtime';

export type NormKernel = 'workgroup' | 'row';

export const NORM_KERNELS: readonly NormKernel[] = ['workgroup', 'row'];

/** Rows per workgroup of the row kernel (normRow.wgsl's GROUP). */
export const NORM_ROW_GROUP = 32;

/** The kernel a normalization runs on when its caller does not name one. */
export function chooseNormKernel(rt: Pick<GpuRuntime, 'capability'>): NormKernel {
  return rt.capability.isFallbackAdapter ? 'row' : 'workgroup';
}
