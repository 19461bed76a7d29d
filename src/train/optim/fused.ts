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
import { defineKernel, type Kernel, type UniformFields } from '../../kernels/kernel';
import { bindWindow, windowCapacity } from '../../kernels/window';
import { checkLearningRate, checkParams, checkRange, isVector, type ParamSlot } from './optimizer';
import { checkGradients, partialCount, Scratch, withOptimizerCommon } from './passes';

/** Elements up to which a parameter steps in one fused workgroup by default. */
export const FUSE_UP_TO = 65536;

/** An optimizer shader with the shared helpers and the fused steps' pieces (fusedStep.wgsl) in front. */
export function withFusedStep(code: string): string {
  return withOptimizerCommon(`${fusedStep}\n${code}`);
}

/**
 * Declares the entry points of an optimizer shader with fused steps (Adafactor's, CAME's): each
 * call names the entry points that take one uniform block, and that block (kernels/kernel.ts).
 */
export function fusedStepModule(name: string, body: string) {
  const module = { name, code: withFusedStep(body) };
  return <const F extends UniformFields, const E extends string>(entryPoints: readonly E[], uniforms: F) =>
    defineKernel({ ...module, entryPoints, uniforms });
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

/** The fused path's settings, as Adafactor and CAME take them. */
export interface FusingOptions {
  /** Parameters of at most this many elements step in one fused dispatch; 0: never. Default FUSE_UP_TO. */
  fuseUpTo?: number;
  /** Invocations of the fused workgroup (8, 16, 32 or 64); default fusedGroup of the runtime. */
  fusedGroup?: number;
}

/** The fused path's settings, checked, with FUSE_UP_TO for a missing limit. */
export function fusing(
  optimizer: string,
  options: FusingOptions,
): { fuseUpTo: number; fusedGroup: number | undefined } {
  const { fuseUpTo = FUSE_UP_TO, fusedGroup } = options;
  if (fusedGroup !== undefined) checkFusedGroup(optimizer, fusedGroup);
  checkRange(optimizer, 'fuse limit', fuseUpTo, 0, Number.POSITIVE_INFINITY);
  return { fuseUpTo, fusedGroup };
}

/** A multi-pass step's scratch: its scalar slots from `at` in `scalars`; `partials` fits its largest sum. */
export interface StepSums {
  scalars: GPUBuffer;
  at: number;
  partials: GPUBuffer;
}

/** How an optimizer with both paths (Adafactor, CAME) steps one parameter of type S's state. */
export interface SplitStep<S> {
  /** Scalar slots each parameter on the multi-pass path takes (ΣR, ΣÛ², …). */
  slots: number;
  /** Storage buffers the fused step binds for a vector and for a matrix. */
  fusedBindings: readonly [vector: number, matrix: number];
  /** The parameter's state, created on its first step. */
  state(slot: ParamSlot): Promise<S>;
  /** The fused step, in a workgroup of `group` invocations. */
  fused(slot: ParamSlot, state: S, group: number): Promise<void>;
  passes(slot: ParamSlot, state: S, sums: StepSums): Promise<void>;
}

/**
 * One step of every parameter: the checks every optimizer makes first (lr, the parameter list,
 * the gradients' finiteness with `checkFinite`), then each parameter by its fused kernel where it
 * fuses (canFuse) and by the passes elsewhere. The passed parameters share one scratch buffer of
 * scalar slots and one of partial sums sized for the largest, both freed when the step ends.
 */
export async function stepFusedOrPassed<S>(
  rt: GpuRuntime,
  optimizer: { name: string; checkFinite: boolean; fuseUpTo: number; fusedGroup: number | undefined },
  params: readonly ParamSlot[],
  lr: number,
  known: (name: string) => { rows: number; cols: number } | undefined,
  step: SplitStep<S>,
): Promise<void> {
  const { name } = optimizer;
  checkLearningRate(name, lr);
  checkParams(name, params, known);
  if (params.length === 0) return;
  if (optimizer.checkFinite) await checkGradients(rt, name, params);
  const [vector, matrix] = step.fusedBindings;
  const passed = params.filter((s) => !canFuse(rt, s, optimizer.fuseUpTo, isVector(s) ? vector : matrix));
  const group = optimizer.fusedGroup ?? fusedGroup(rt);
  const scratch = new Scratch(rt);
  try {
    const label = name.toLowerCase();
    const scalars = passed.length
      ? await scratch.buffer(`${label} scalars`, step.slots * passed.length)
      : null;
    const most = Math.max(0, ...passed.map((s) => s.rows * s.cols));
    const partials = passed.length ? await scratch.buffer(`${label} partials`, partialCount(rt, most)) : null;
    for (const slot of params) {
      const state = await step.state(slot);
      const at = passed.indexOf(slot);
      if (at < 0) await step.fused(slot, state, group);
      else
        await step.passes(slot, state, {
          scalars: scalars as GPUBuffer,
          at: step.slots * at,
          partials: partials as GPUBuffer,
        });
    }
  } finally {
    scratch.destroy();
  }
}
