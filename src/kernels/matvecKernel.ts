// Which kernel a matrix–vector product runs on: the dense matvec (matvec.ts) and the sparse ones
// (src/sparse: nmMatvec, bitmaskMatvec) each have two, chosen by the same rule:
//
// - 'workgroup': a workgroup per row of W, its invocations splitting the row and adding their
//   partial sums in a tree in workgroup memory (the bitmask kernel first finds where each
//   invocation's values start with a prefix sum). Made for GPUs, where barriers are cheap and a
//   row's neighbouring elements are read by neighbouring invocations. The sparse wrappers still
//   give rows short enough that a workgroup would sit idle one invocation each on this kernel.
// - 'direct': one invocation per row, summing it serially in a register, no workgroup memory and
//   no barrier.
//
// The rule: a CPU adapter (the fallback adapter, SwiftShader here) gets 'direct' for every shape,
// anything else 'workgroup'. On SwiftShader a workgroup runs on one thread and every barrier
// switches between all of its emulated invocations: the per-row tree's 7 barriers (and the
// bitmask's 15 more) made a product cost about its number of rows rather than its bytes, so the
// compressed formats' halved bytes did not show (bench/README.md, "Issue 15"). The same reasoning
// as the matmul's choice (matmulKernel.ts); no GPU has measured the direct kernels, so GPUs keep
// the kernels made for them.

import type { GpuRuntime } from '../gpu/runtime';

export type MatvecKernel = 'workgroup' | 'direct';

export const MATVEC_KERNELS: readonly MatvecKernel[] = ['workgroup', 'direct'];

/** The kernel a matrix–vector product runs on when its caller does not name one. */
export function chooseMatvecKernel(rt: Pick<GpuRuntime, 'capability'>): MatvecKernel {
  return rt.capability.isFallbackAdapter ? 'direct' : 'workgroup';
}

/** The named kernel, or the adapter's; a name that is not a kernel is a RangeError naming `who`. */
export function matvecKernelFor(
  who: string,
  rt: Pick<GpuRuntime, 'capability'>,
  kernel: MatvecKernel | undefined,
): MatvecKernel {
  const chosen = kernel ?? chooseMatvecKernel(rt);
  if (!MATVEC_KERNELS.includes(chosen)) throw new RangeError(`${who}: no kernel named ${chosen}`);
  return chosen;
}
