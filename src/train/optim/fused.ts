// The fused step of a small parameter: Adafactor's or CAME's whole update of one parameter in a
// single dispatch of one workgroup (the fused_* entry points of shaders/train/optim/adafactor.wgsl and
// came.wgsl), instead of the multi-pass path (statistics, reductions, apply; factored.ts and
// passes.ts). Why: on a CPU driver such as SwiftShader a step's cost is the number of dispatches,
// workgroups and workgroup barriers rather than its arithmetic, and the multi-pass path spends 4–7
// dispatches per parameter against AdamW's one. In one workgroup the per-parameter sums (Σ R, Σ Û²,
// Σ W²) are sums in workgroup memory behind one barrier each and the rows and columns are ordered
// by barriers, so nothing goes through a scalar slot or a reduce dispatch. The price is that one
// workgroup does all of the parameter's work, so the path is kept for parameters of at most
// FUSE_UP_TO elements, which covers every tensor of the nano and tiny presets; larger ones, and any
// that does not fit one storage binding, take the multi-pass path, which spreads the work over many
// workgroups.

import fusedStep from '../../../shaders/train/optim/fusedStep.wgsl?raw';
import type { GpuRuntime } from '../../gpu/runtime';
import type { Kernel } from '../../kernels/kernel';
import { bindWindow, windowCapacity } from '../../kernels/window';
import { isVector } from './optimizer';
import { withOptimizerCommon } from './passes';

/** Elements up to which a parameter steps in one fused workgroup by default. */
export const FUSE_UP_TO = 65536;

/** An optimizer shader with the shared helpers and the fused steps' pieces (fusedStep.wgsl) in front. */
export function withFusedStep(code: string): string {
  return withOptimizerCommon(`${fusedStep}\n${code}`);
}

/**
 * Invocations of the fused workgroup on this runtime: 8 on a CPU adapter, where a barrier costs per
 * SIMD group of the workgroup (so 64 invocations made the fused step of a small tensor several times
 * slower), 64 on a GPU, where more invocations share the serial sweeps.
 */
export function fusedGroup(rt: GpuRuntime): number {
  return rt.capability.isFallbackAdapter ? 8 : 64;
}

/** The invocation counts the fused shaders accept (fusedStep.wgsl). */
export const FUSED_GROUPS = [8, 16, 32, 64] as const;

/** rows + cols a fused matrix may have: its factors are cached in workgroup memory (fusedStep.wgsl). */
export const FUSED_FACTORS = 3072;

/**
 * Whether a rows × cols parameter whose fused step binds `bindings` storage buffers may fuse: small
 * enough, every operand in one binding, the factors of a matrix in the workgroup's cache.
 */
export function canFuse(
  rt: GpuRuntime,
  slot: { rows: number; cols: number },
  fuseUpTo: number,
  bindings: number,
): boolean {
  const count = slot.rows * slot.cols;
  const capacity = windowCapacity(
    rt.limits.maxStorageBufferBindingSize,
    rt.limits.minStorageBufferOffsetAlignment,
  );
  return (
    count <= fuseUpTo &&
    count <= capacity &&
    (isVector(slot) || slot.rows + slot.cols <= FUSED_FACTORS) &&
    bindings <= rt.limits.maxStorageBuffersPerShaderStage
  );
}

/**
 * Records one workgroup of `group` invocations running one entry point of `kernel` over a
 * parameter. Each operand is bound from element 0 over `length` elements; `values` is the
 * kernel's uniform block, by name.
 */
export async function runFused(
  rt: GpuRuntime,
  kernel: Kernel,
  entryPoint: string,
  group: number,
  operands: readonly { buffer: GPUBuffer; length: number }[],
  values: Readonly<Record<string, number>>,
): Promise<void> {
  checkFusedGroup(kernel.name, group);
  for (const o of operands) {
    if (o.length * 4 > o.buffer.size)
      throw new RangeError(
        `${kernel.name}/${entryPoint}: ${o.length} elements overrun "${o.buffer.label}" (${o.buffer.size} bytes)`,
      );
  }
  const pipeline = await kernel.pipeline(rt, entryPoint, { FUSED_GROUP: group });
  const align = rt.limits.minStorageBufferOffsetAlignment;
  rt.submit([
    {
      pipeline,
      uniforms: kernel.pack(values),
      storage: operands.map((o) => bindWindow(o.buffer, 0, o.length, align).binding),
      workgroups: [1],
    },
  ]);
}

export function checkFusedGroup(optimizer: string, group: number): void {
  if (!(FUSED_GROUPS as readonly number[]).includes(group))
    throw new RangeError(
      `${optimizer}: the fused workgroup must have ${FUSED_GROUPS.join(', ')} invocations, got ${group}`,
    );
}
