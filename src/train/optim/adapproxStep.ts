// Adapprox's fused step of a small parameter: everything but the S-RSI (second moment with the
// history, max V, the clipped Û, M, the guidance, W, and Σ (V / max V)²) in one single-workgroup
// dispatch of shaders/train/optim/adapproxStep.wgsl, instead of 4–8 multi-pass dispatches and reductions. Why:
// on a CPU driver such as SwiftShader a dispatch costs a fixed 1–2 ms whatever its size, so a small
// matrix's step was its dispatch count; one workgroup does all of the parameter's arithmetic, so
// only parameters up to `fuseStepUpTo` elements (every tensor of the nano and tiny presets) take
// it. The S-RSI of the small factored matrices is one more dispatch for all of them
// (srsiGpuBatch.ts), which reads each one's V where this step wrote it.

import stepBody from '../../../shaders/train/optim/adapproxStep.wgsl?raw';
import block8 from '../../../shaders/train/optim/block8.wgsl?raw';
import type { GpuRuntime } from '../../gpu/runtime';
import { defineKernel } from '../../kernels/kernel';
import { bindWindow } from '../../kernels/window';

const stepKernel = defineKernel({
  name: 'adapprox step',
  code: `${block8}\n${stepBody}`,
  entryPoints: ['fused_step'],
  uniforms: {
    n: 'u32',
    cols: 'u32',
    slot: 'u32',
    k: 'u32',
    stride: 'u32',
    q_rows: 'u32',
    momentum: 'u32',
    guidance: 'u32',
    dense: 'u32',
    beta2: 'f32',
    one_minus_beta2: 'f32',
    eps1: 'f32',
    eps: 'f32',
    inv_count: 'f32',
    d: 'f32',
    beta1: 'f32',
    one_minus_beta1: 'f32',
    lr: 'f32',
    weight_decay: 'f32',
  },
});

/** The invocation counts the fused step's workgroup may have (adapproxStep.wgsl step_values). */
export const STEP_GROUPS = [8, 16, 32, 64, 128, 256] as const;

/**
 * The fused step's invocations on this runtime: 8 on a CPU adapter, where a barrier costs per SIMD
 * group of the workgroup; 256 on a GPU, where the one workgroup is all of a parameter's
 * parallelism (on an H200, 64 left tiny's steps at 9.4 GPU ms of a 13.5 ms optimizer step).
 */
export function stepGroup(rt: GpuRuntime): number {
  return rt.capability.isFallbackAdapter ? 8 : 256;
}

/** Storage buffers the fused step binds (G, V, scalars, M, W, Q, U). */
const STEP_BINDINGS = 7;

/**
 * Whether the fused step can run on this device: each operand must be bound whole, from element 0,
 * in one storage binding, and the dispatch binds seven storage buffers.
 */
export function canFuseStep(rt: GpuRuntime, floats: readonly number[]): boolean {
  const limit = rt.limits.maxStorageBufferBindingSize;
  return rt.limits.maxStorageBuffersPerShaderStage >= STEP_BINDINGS && floats.every((f) => 4 * f <= limit);
}

export interface StepArgs {
  rows: number;
  cols: number;
  g: GPUBuffer;
  /** Out: this step's V. In: the dense EMA when `dense`, else unread. */
  v: GPUBuffer;
  /**
   * Where V starts in `v`, in elements (a batch of matrices shares one V buffer; srsiGpuBatch.ts);
   * a multiple of the storage-offset alignment. Default 0.
   */
  vOffset?: number;
  dense: boolean;
  scalars: GPUBuffer;
  /** The parameter's slot offset in `scalars` (whose whole buffer is bound). */
  slot: number;
  /** Absent without a first moment; `spare` (any buffer the dispatch does not otherwise bind) stands in. */
  m: GPUBuffer | undefined;
  spare: GPUBuffer;
  w: GPUBuffer;
  /** The history Q·Uᵀ (Q short × k, U long × k, row length stride), when a factored matrix has one. */
  history?: { q: GPUBuffer; u: GPUBuffer; k: number; stride: number; qOnRows: boolean };
  /** β2 (0 on a first step without history), 1 − β2, ε1, ε, d, β1, η, λ, guidance mode. */
  beta2: number;
  oneMinusBeta2: number;
  eps1: number;
  eps: number;
  clipThreshold: number;
  beta1: number;
  lr: number;
  weightDecay: number;
  guidance: number;
  group: number;
}

/** Records the fused step of one parameter. */
export async function fusedStep(rt: GpuRuntime, a: StepArgs): Promise<void> {
  const count = a.rows * a.cols;
  const pipeline = await stepKernel.pipeline(rt, 'fused_step', { STEP_GROUP: a.group });
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const whole = (buffer: GPUBuffer, floats: number) => bindWindow(buffer, 0, floats, align).binding;
  const h = a.history;
  const vWindow = bindWindow(a.v, a.vOffset ?? 0, count, align);
  if (vWindow.base !== 0)
    throw new RangeError(`adapprox step: V's offset ${a.vOffset} is not on the storage-offset alignment`);
  rt.submit([
    {
      pipeline,
      uniforms: stepKernel.pack({
        n: count,
        cols: a.cols,
        slot: a.slot,
        k: h?.k ?? 0,
        stride: h?.stride ?? 0,
        q_rows: h?.qOnRows ? 1 : 0,
        momentum: a.m ? 1 : 0,
        guidance: a.guidance,
        dense: a.dense ? 1 : 0,
        beta2: a.beta2,
        one_minus_beta2: a.oneMinusBeta2,
        eps1: a.eps1,
        eps: a.eps,
        inv_count: 1 / count,
        d: a.clipThreshold,
        beta1: a.beta1,
        one_minus_beta1: 1 - a.beta1,
        lr: a.lr,
        weight_decay: a.weightDecay,
      }),
      storage: [
        whole(a.g, count),
        vWindow.binding,
        a.scalars,
        a.m ? whole(a.m, count) : a.spare,
        whole(a.w, count),
        h ? h.q : a.g,
        h ? h.u : a.g,
      ],
      workgroups: [1],
    },
  ]);
}
