// Adapprox's fused step of small parameters: everything but the S-RSI (second moment with the
// history, max V, the clipped Û, M, the guidance, W, and Σ (V / max V)²) in one workgroup per
// parameter (shaders/train/optim/adapproxStep.wgsl), instead of 4–8 multi-pass dispatches and
// reductions each. Why: on a CPU driver such as SwiftShader a dispatch costs a fixed amount
// whatever its size, so a small matrix's step was its dispatch count; one workgroup does all of the
// parameter's arithmetic, so only parameters up to `fuseStepUpTo` elements (every tensor of the
// nano and tiny presets) take it.
//
// The parameters run as the workgroups of ONE dispatch, so that a CPU driver spreads them over its
// cores and a GPU over its multiprocessors (one dispatch per parameter ran them one after another).
// A dispatch reaches its parameters' G, W, M, V, Q and U in one arena: the host copies each
// parameter's buffers into its region before the dispatch, and W, M and V back out after it (a
// copy costs a memcpy; the buffers themselves belong to the model and the optimizer's state, one
// per tensor). A table gives each parameter's shape, scalar slot and regions. The S-RSI of the
// small factored matrices is one more dispatch for all of them (srsiGpuBatch.ts), which reads each
// one's V where the copy out put it.

import stepBody from '../../../shaders/train/optim/adapproxStep.wgsl?raw';
import block8 from '../../../shaders/train/optim/block8.wgsl?raw';
import type { GpuRuntime } from '../../gpu/runtime';
import { defineKernel } from '../../kernels/kernel';
import { bindWindow } from '../../kernels/window';
import { costliestFirst, f32Bits, setEntry } from './jobTable';

const stepKernel = defineKernel({
  name: 'adapprox step',
  code: `${block8}\n${stepBody}`,
  entryPoints: ['fused_step'],
  uniforms: {
    first: 'u32',
    count: 'u32',
    momentum: 'u32',
    guidance: 'u32',
    one_minus_beta2: 'f32',
    eps1: 'f32',
    eps: 'f32',
    d: 'f32',
    beta1: 'f32',
    one_minus_beta1: 'f32',
    lr: 'f32',
    weight_decay: 'f32',
  },
});

/** Words per parameter in the table (adapproxStep.wgsl STEP_TABLE_WORDS, StepJob's fields). */
export const STEP_TABLE_WORDS = 15;

/** The invocation counts the fused step's workgroup may have (adapproxStep.wgsl step_values). */
export const STEP_GROUPS = [8, 16, 32, 64, 128, 256] as const;

/**
 * The fused step's invocations on this runtime: 8 on a CPU adapter, where a barrier costs per SIMD
 * group of the workgroup; 256 on a GPU, where a workgroup is all of a parameter's parallelism (on
 * an H200, 64 left tiny's steps at 9.4 GPU ms of a 13.5 ms optimizer step).
 */
export function stepGroup(rt: GpuRuntime): number {
  return rt.capability.isFallbackAdapter ? 8 : 256;
}

/** What the plan needs of one parameter that takes the fused step. */
export interface StepShape {
  rows: number;
  cols: number;
  /** Its scalar slot's offset in the step's scalar buffer. */
  slot: number;
  /** V is the dense EMA (the parameter's state), read and written; else the history's product. */
  dense: boolean;
  /** β2, or 0 on a factored matrix's first step (no history yet). */
  beta2: number;
  /** The previous factors Q (short × stride) and U (long × stride) with k columns in use. */
  history?: { k: number; stride: number; qFloats: number; uFloats: number; qOnRows: boolean };
}

/** Where a parameter's operands start in its dispatch's arena, and its entry in the table. */
export interface StepPlacement {
  dispatch: number;
  entry: number;
  /** Its elements; whether its V is read (a dense V) as well as written; whether it has Q and U. */
  n: number;
  dense: boolean;
  history: boolean;
  g0: number;
  w0: number;
  /** Unused (0) without a first moment. */
  m0: number;
  v0: number;
  /** Unused (0) without a history. */
  q0: number;
  u0: number;
}

/** One dispatch: its first entry in the table, how many parameters, and its arena's floats. */
export interface StepDispatch {
  first: number;
  count: number;
  arenaFloats: number;
}

export interface StepPlan {
  /** Per group, per shape, in the order given. */
  placements: StepPlacement[][];
  /** Per group, its dispatches (indices into `dispatches`). */
  groups: number[][];
  dispatches: StepDispatch[];
  /** Every entry, STEP_TABLE_WORDS words each. */
  table: Uint32Array;
}

/** Floats of a parameter's region in an arena: G, W, (M,) V, (Q, U). */
export function regionFloats(s: StepShape, momentum: boolean): number {
  const n = s.rows * s.cols;
  return n * (momentum ? 4 : 3) + (s.history ? s.history.qFloats + s.history.uFloats : 0);
}

/**
 * Lays out groups of fused steps: each group's parameters share dispatches (a group runs when its
 * step needs it: the batched matrices and dense parameters at the end of the step, a matrix outside
 * the batch alone, before its own S-RSI). A group opens a new dispatch where the arena would pass
 * one storage binding or the dispatch the workgroup limit. The regions follow the given order; the
 * entries (the workgroups) of each dispatch go costliest first (jobTable.ts costliestFirst). Throws
 * where one parameter's region alone does not fit a binding (canFuseStep keeps such parameters off
 * the fused step).
 */
export function planFusedSteps(
  groups: readonly (readonly StepShape[])[],
  momentum: boolean,
  limits: { bindingBytes: number; maxWorkgroups: number },
): StepPlan {
  const bindingFloats = Math.floor(limits.bindingBytes / 4);
  const placements: StepPlacement[][] = [];
  const groupDispatches: number[][] = [];
  const dispatches: StepDispatch[] = [];
  const entries: { shape: StepShape; placement: StepPlacement }[] = [];
  for (const group of groups) {
    const placed: StepPlacement[] = [];
    const own: number[] = [];
    let current: StepDispatch | undefined;
    for (const shape of group) {
      const region = regionFloats(shape, momentum);
      if (region > bindingFloats)
        throw new RangeError(
          `adapprox step: a ${shape.rows} × ${shape.cols} parameter's ${region} floats cannot share one binding`,
        );
      if (!current || current.count >= limits.maxWorkgroups || current.arenaFloats + region > bindingFloats) {
        current = { first: entries.length, count: 0, arenaFloats: 0 };
        own.push(dispatches.length);
        dispatches.push(current);
      }
      const n = shape.rows * shape.cols;
      const g0 = current.arenaFloats;
      const w0 = g0 + n;
      const m0 = momentum ? w0 + n : 0;
      const v0 = w0 + n * (momentum ? 2 : 1);
      const q0 = shape.history ? v0 + n : 0;
      const u0 = shape.history ? q0 + shape.history.qFloats : 0;
      const placement = {
        dispatch: dispatches.length - 1,
        entry: entries.length,
        n,
        dense: shape.dense,
        history: shape.history !== undefined,
        g0,
        w0,
        m0,
        v0,
        q0,
        u0,
      };
      placed.push(placement);
      entries.push({ shape, placement });
      current.arenaFloats += region;
      current.count++;
    }
    placements.push(placed);
    groupDispatches.push(own);
  }
  // The costliest parameters first in each dispatch: the history's k multiply-adds per element,
  // and about 6 more for the rest of the step.
  for (const d of dispatches.keys()) {
    const mine = entries.filter((e) => e.placement.dispatch === d);
    costliestFirst(
      mine.map((e) => e.placement),
      mine.map((e) => e.placement.n * ((e.shape.history?.k ?? 0) + 6)),
    );
  }
  const table = new Uint32Array(Math.max(1, entries.length * STEP_TABLE_WORDS));
  for (const { shape: s, placement: p } of entries) {
    const h = s.history;
    const words = [
      s.rows * s.cols,
      s.cols,
      s.slot,
      h?.k ?? 0,
      h?.stride ?? 0,
      h?.qOnRows ? 1 : 0,
      s.dense ? 1 : 0,
      f32Bits(s.beta2),
      f32Bits(1 / (s.rows * s.cols)),
      p.g0,
      p.w0,
      p.m0,
      p.v0,
      p.q0,
      p.u0,
    ];
    setEntry(table, p.entry, STEP_TABLE_WORDS, words, 'adapprox step');
  }
  return { placements, groups: groupDispatches, dispatches, table };
}

/**
 * Whether a parameter can take the fused step on this device: its region of the arena (G, W, M,
 * V, and Q and U where `factors` lists their floats) must fit one storage binding. (The dispatch
 * binds three storage buffers, within every device's minimum of eight.)
 */
export function canFuseStep(rt: GpuRuntime, count: number, factors: readonly number[]): boolean {
  const floats = 4 * count + factors.reduce((a, b) => a + b, 0);
  return 4 * floats <= rt.limits.maxStorageBufferBindingSize;
}

/** The buffers of one parameter's fused step. */
export interface StepBuffers {
  g: GPUBuffer;
  w: GPUBuffer;
  /** Absent without a first moment. */
  m?: GPUBuffer;
  /** Where V goes after the step, and for a dense V (the parameter's state) where it comes from. */
  v: { buffer: GPUBuffer; offset: number };
  /** The previous factors, with a history. */
  q?: GPUBuffer;
  u?: GPUBuffer;
}

/** The settings every parameter of a step shares. */
export interface StepSettings {
  momentum: boolean;
  /** 0 off, 1 half, 2 positive. */
  guidance: number;
  oneMinusBeta2: number;
  eps1: number;
  eps: number;
  clipThreshold: number;
  beta1: number;
  lr: number;
  weightDecay: number;
  /** Invocations per workgroup (STEP_GROUPS). */
  group: number;
}

/**
 * Records one group of the plan: for each of its dispatches, an arena (from `arena`, which owns
 * it until the step's end), the copies in, the dispatch and the copies out (those of the state
 * left to `stateOut`). `buffers` follows the group's shapes.
 */
export async function runFusedSteps(
  rt: GpuRuntime,
  plan: StepPlan,
  group: number,
  buffers: readonly StepBuffers[],
  args: {
    table: GPUBuffer;
    scalars: GPUBuffer;
    settings: StepSettings;
    arena: (floats: number) => Promise<GPUBuffer>;
    /**
     * Where the copies of the parameters' state out of the arena (W, M, a dense V) go, for the
     * caller to record once it has seen the step's gradient counts; a factored matrix's V, which
     * its S-RSI reads next, is copied out at once.
     */
    stateOut: (() => void)[];
  },
): Promise<void> {
  const placements = plan.placements[group] as StepPlacement[];
  const shapes = placements.map((p, i) => ({ p, b: buffers[i] as StepBuffers }));
  const pipeline = await stepKernel.pipeline(rt, 'fused_step', { STEP_GROUP: args.settings.group });
  const s = args.settings;
  for (const d of plan.groups[group] as number[]) {
    const dispatch = plan.dispatches[d] as StepDispatch;
    const arena = await args.arena(dispatch.arenaFloats);
    const mine = shapes.filter(({ p }) => p.dispatch === d);
    const copy = (from: GPUBuffer, to: GPUBuffer, bytes: number, fromAt: number, toAt: number) =>
      rt.copy(from, to, bytes, 4 * fromAt, 4 * toAt);
    // The regions follow the plan; a parameter's buffers must match it.
    for (const { p, b } of mine) {
      if ((s.momentum && !b.m) || (p.history && !(b.q && b.u)))
        throw new Error(`adapprox step entry ${p.entry}: its buffers do not match its plan`);
      const bytes = 4 * p.n;
      copy(b.g, arena, bytes, 0, p.g0);
      copy(b.w, arena, bytes, 0, p.w0);
      if (s.momentum && b.m) copy(b.m, arena, bytes, 0, p.m0);
      // A dense V is the parameter's state, which the step reads.
      if (p.dense) copy(b.v.buffer, arena, bytes, b.v.offset, p.v0);
      if (p.history && b.q && b.u) {
        copy(b.q, arena, b.q.size, 0, p.q0);
        copy(b.u, arena, b.u.size, 0, p.u0);
      }
    }
    const table = bindWindow(
      args.table,
      dispatch.first * STEP_TABLE_WORDS,
      dispatch.count * STEP_TABLE_WORDS,
      rt.limits.minStorageBufferOffsetAlignment,
    );
    rt.submit([
      {
        pipeline,
        uniforms: stepKernel.pack({
          first: table.base,
          count: dispatch.count,
          momentum: s.momentum ? 1 : 0,
          guidance: s.guidance,
          one_minus_beta2: s.oneMinusBeta2,
          eps1: s.eps1,
          eps: s.eps,
          d: s.clipThreshold,
          beta1: s.beta1,
          one_minus_beta1: 1 - s.beta1,
          lr: s.lr,
          weight_decay: s.weightDecay,
        }),
        storage: [arena, args.scalars, table.binding],
        workgroups: [dispatch.count],
      },
    ]);
    for (const { p, b } of mine) {
      const bytes = 4 * p.n;
      const m = s.momentum ? b.m : undefined;
      args.stateOut.push(() => {
        copy(arena, b.w, bytes, p.w0, 0);
        if (m) copy(arena, m, bytes, p.m0, 0);
        if (p.dense) copy(arena, b.v.buffer, bytes, p.v0, b.v.offset);
      });
      if (!p.dense) copy(arena, b.v.buffer, bytes, p.v0, b.v.offset);
    }
  }
}
