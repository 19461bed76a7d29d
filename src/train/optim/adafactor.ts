// Adafactor on the GPU (Shazeer & Stern, ICML 2018), following HF transformers' Adafactor as
// docs/algorithms/adafactor.md describes it: the second moment of a matrix is the rank-1 product of row
// and column EMAs of G² + ε1 (R / mean R ⊗ C), β2,t = 1 − t^decay_rate (no bias correction
// needed), update clipping by RMS(Û)/d, optional momentum on the lr-scaled update, decoupled weight
// decay scaled by the same step size. Vectors keep a dense EMA.
// Defaults are those of HF except those docs/algorithms/adafactor.md §2 lists, for runs with an explicit schedule:
// relative step, parameter scaling and warm-up init are off, so the step size is the caller's lr.
// State per m×n matrix: R (m) + C (n), plus M (m·n) with β1 > 0; per vector of n: V (n) + M (n).
// A step allocates no m×n temporary: every pass reads G and the factors and forms Û on the fly.
// Parameters of at most `fuseUpTo` elements step in one fused dispatch (fused.ts); larger ones in
// the passes below.

import body from '../../../shaders/train/optim/adafactor.wgsl?raw';
import type { TrackedBuffer } from '../../gpu/ledger';
import type { GpuRuntime } from '../../gpu/runtime';
import { reduce } from '../../kernels/reduce';
import { factoredEma, factoredKernels } from './factored';
import { CLIPPING, DENSE_OPERANDS, FACTORED_OPERANDS, MOMENTUM } from './factoredFields';
import type { FusingOptions, StepSums } from './fused';
import { fusedStepModule, fusing, runFused, stepFusedOrPassed } from './fused';
import { checkPositive, checkRange, isVector, type ParamSlot } from './optimizer';
import { type Operands, runPass, sumPass } from './passes';
import { BufferedOptimizer, type HeldState, StateBuffers } from './state';

const kernel = fusedStepModule('adafactor', body);

/** The step's scalars every apply pass and fused step reads: ρ, parameter scaling, ε2, 1/rows, clipping. */
const UPDATE = { rho: 'f32', scaling: 'f32', eps2: 'f32', inv_rows: 'f32', ...CLIPPING } as const;
/** The fused steps' block: the apply passes' scalars and the second moment's EMA. */
const FUSED = {
  ...UPDATE,
  ...MOMENTUM,
  weight_decay: 'f32',
  beta2: 'f32',
  one_minus_beta2: 'f32',
  eps1: 'f32',
} as const;

/** The entry points of shaders/train/optim/adafactor.wgsl, by uniform block. */
const adafactorKernels = {
  apply_factored: kernel(['apply_factored'], {
    ...FACTORED_OPERANDS,
    w: 'u32',
    ...UPDATE,
    weight_decay: 'f32',
  }),
  apply_factored_momentum: kernel(['apply_factored_momentum'], {
    ...FACTORED_OPERANDS,
    m: 'u32',
    w: 'u32',
    ...UPDATE,
    ...MOMENTUM,
    weight_decay: 'f32',
  }),
  apply_dense: kernel(['apply_dense'], { ...DENSE_OPERANDS, w: 'u32', ...UPDATE, weight_decay: 'f32' }),
  apply_dense_momentum: kernel(['apply_dense_momentum'], {
    ...DENSE_OPERANDS,
    m: 'u32',
    w: 'u32',
    ...UPDATE,
    ...MOMENTUM,
    weight_decay: 'f32',
  }),
  fused_factored: kernel(['fused_factored', 'fused_factored_momentum'], { n: 'u32', cols: 'u32', ...FUSED }),
  fused_dense: kernel(['fused_dense', 'fused_dense_momentum'], { n: 'u32', ...FUSED }),
};

export interface AdafactorOptions extends FusingOptions {
  /** First-moment decay; 0 (HF's None) keeps no momentum. Default 0. */
  beta1?: number;
  /** β2,t = 1 − t^decayRate; default −0.8. */
  decayRate?: number;
  /** (ε1 added to G², ε2 the floor of RMS(W) in parameter scaling); default (1e-30, 1e-3). */
  eps?: [number, number];
  /** d in Û / max(1, RMS(Û)/d); default 1. */
  clipThreshold?: number;
  /** Decoupled, scaled by the step size α; default 0. */
  weightDecay?: number;
  /** ρ = min(1e-2, 1/sqrt(t)) instead of the caller's lr (HF's default; off here). */
  relativeStep?: boolean;
  /** α = max(ε2, RMS(W))·ρ (HF's default; off here). */
  scaleParameter?: boolean;
  /** With relativeStep: ρ = min(1e-6·t, 1/sqrt(t)). */
  warmupInit?: boolean;
  checkFinite?: boolean;
}

/** Matrices: row and column EMAs; vectors: the dense EMA in `v`. */
type Buffers = { r?: TrackedBuffer; c?: TrackedBuffer; v?: TrackedBuffer; m?: TrackedBuffer };
type State = HeldState<Buffers>;

/** Scalar slots per parameter: ΣR, ΣÛ², ΣW², spare. */
const SLOTS = 4;

export class Adafactor extends BufferedOptimizer<Buffers> {
  readonly name = 'Adafactor';
  readonly beta1: number;
  readonly decayRate: number;
  readonly eps1: number;
  readonly eps2: number;
  readonly clipThreshold: number;
  readonly weightDecay: number;
  readonly relativeStep: boolean;
  readonly scaleParameter: boolean;
  readonly warmupInit: boolean;
  readonly checkFinite: boolean;
  readonly fuseUpTo: number;
  readonly fusedGroup: number | undefined;
  protected readonly states = new StateBuffers<Buffers>(this.name, (p) => this.layout(p));

  constructor(options: AdafactorOptions = {}) {
    super();
    this.beta1 = options.beta1 ?? 0;
    this.decayRate = options.decayRate ?? -0.8;
    [this.eps1, this.eps2] = options.eps ?? [1e-30, 1e-3];
    this.clipThreshold = options.clipThreshold ?? 1;
    this.weightDecay = options.weightDecay ?? 0;
    this.relativeStep = options.relativeStep ?? false;
    this.scaleParameter = options.scaleParameter ?? false;
    this.warmupInit = options.warmupInit ?? false;
    this.checkFinite = options.checkFinite ?? true;
    ({ fuseUpTo: this.fuseUpTo, fusedGroup: this.fusedGroup } = fusing(this.name, options));
    checkRange(this.name, 'β1', this.beta1, 0, 1);
    checkRange(this.name, 'decay rate', this.decayRate, -1, 0, true);
    checkPositive(this.name, 'ε1', this.eps1);
    checkPositive(this.name, 'ε2', this.eps2);
    checkPositive(this.name, 'clip threshold', this.clipThreshold);
    checkRange(this.name, 'weight decay', this.weightDecay, 0, Number.POSITIVE_INFINITY);
    if (this.warmupInit && !this.relativeStep)
      throw new RangeError(`${this.name}: warm-up init needs the relative step`);
  }

  /** The step size ρ of step t (before parameter scaling). */
  stepSize(lr: number, t: number): number {
    if (!this.relativeStep) return lr;
    return Math.min(this.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t));
  }

  step(rt: GpuRuntime, params: ParamSlot[], lr: number): Promise<void> {
    return stepFusedOrPassed(rt, this, params, lr, (name) => this.states.get(name), {
      slots: SLOTS,
      fusedBindings: [4, 5],
      state: (slot) => this.states.of(rt, slot),
      fused: (slot, state, group) => this.stepFused(rt, slot, state, lr, group),
      passes: (slot, state, sums) => this.passes(rt, slot, state, lr, sums),
    });
  }

  /** The apply passes' scalars (shaders/train/optim/adafactor.wgsl), with β1 for the momentum's. */
  private applyValues(lr: number, t: number, rows: number, count: number, momentum: boolean) {
    return {
      rho: this.stepSize(lr, t),
      scaling: this.scaleParameter ? 1 : 0,
      eps2: this.eps2,
      inv_rows: 1 / rows,
      inv_count: 1 / count,
      d: this.clipThreshold,
      weight_decay: this.weightDecay,
      ...(momentum ? { beta1: this.beta1, one_minus_beta1: 1 - this.beta1 } : {}),
    };
  }

  /** The whole step of one parameter in one workgroup (shaders/train/optim/adafactor.wgsl, fused_*). */
  private async stepFused(rt: GpuRuntime, slot: ParamSlot, state: State, lr: number, group: number) {
    const { rows, cols } = slot;
    const count = rows * cols;
    state.t++;
    const decay = state.t ** this.decayRate;
    const second =
      state.r && state.c
        ? [
            { buffer: state.r.buffer, length: rows },
            { buffer: state.c.buffer, length: cols },
          ]
        : [{ buffer: (state.v as TrackedBuffer).buffer, length: count }];
    const m = state.m ? [{ buffer: state.m.buffer, length: count }] : [];
    await runFused(
      rt,
      state.r ? adafactorKernels.fused_factored : adafactorKernels.fused_dense,
      `fused_${state.r ? 'factored' : 'dense'}${state.m ? '_momentum' : ''}`,
      group,
      [{ buffer: slot.g, length: count }, ...second, { buffer: slot.p, length: count }, ...m],
      {
        n: count,
        ...(state.r ? { cols } : {}),
        ...this.applyValues(lr, state.t, rows, count, true),
        beta2: 1 - decay,
        one_minus_beta2: decay,
        eps1: this.eps1,
      },
    );
  }

  /** The multi-pass step of one parameter. */
  private async passes(rt: GpuRuntime, slot: ParamSlot, state: State, lr: number, sums: StepSums) {
    const { scalars, at, partials } = sums;
    const { rows, cols } = slot;
    const count = rows * cols;
    state.t++;
    const beta2t = 1 - state.t ** this.decayRate;
    if (state.r && state.c) {
      await factoredEma(
        rt,
        { rows, cols, g: slot.g, r: state.r.buffer, c: state.c.buffer, beta: beta2t },
        this.eps1,
      );
      await reduce(rt, 'sum', rows, { buffer: state.r.buffer }, { buffer: scalars, offset: at });
      await sumPass(
        rt,
        factoredKernels.u2,
        count,
        {
          g: { buffer: slot.g },
          r: { buffer: state.r.buffer, whole: true },
          c: { buffer: state.c.buffer, whole: true },
          slot: { buffer: scalars, offset: at, whole: true },
        },
        { values: { cols, inv_rows: 1 / rows }, partials },
        { buffer: scalars, offset: at + 1 },
      );
    } else {
      await sumPass(
        rt,
        factoredKernels.dense,
        count,
        { g: { buffer: slot.g }, v: { buffer: (state.v as TrackedBuffer).buffer } },
        { values: { beta: beta2t, one_minus_beta: 1 - beta2t, eps: this.eps1 }, partials },
        { buffer: scalars, offset: at + 1 },
      );
    }
    if (this.scaleParameter) {
      await reduce(rt, 'sumsq', count, { buffer: slot.p }, { buffer: scalars, offset: at + 2 });
    }
    const values = this.applyValues(lr, state.t, rows, count, state.m !== undefined);
    const momentum: Operands = state.m ? { m: { buffer: state.m.buffer } } : {};
    const factored = state.r !== undefined && state.c !== undefined;
    const second: Operands =
      state.r && state.c
        ? { r: { buffer: state.r.buffer, whole: true }, c: { buffer: state.c.buffer, whole: true } }
        : { v: { buffer: (state.v as TrackedBuffer).buffer } };
    const kernel = factored
      ? state.m
        ? adafactorKernels.apply_factored_momentum
        : adafactorKernels.apply_factored
      : state.m
        ? adafactorKernels.apply_dense_momentum
        : adafactorKernels.apply_dense;
    await runPass(
      rt,
      kernel,
      count,
      {
        g: { buffer: slot.g },
        ...second,
        slot: { buffer: scalars, offset: at, whole: true },
        ...momentum,
        w: { buffer: slot.p },
      },
      { values: factored ? { cols, ...values } : values },
    );
  }

  protected floatsOf(s: State): number {
    const n = s.rows * s.cols;
    return (s.r ? s.rows + s.cols : n) + (s.m ? n : 0);
  }

  /** A parameter's state buffers: a matrix's row and column EMAs or a vector's dense V, and M with β1 > 0. */
  private layout({ name, rows, cols }: { name: string; rows: number; cols: number }) {
    const out: Record<string, { label: string; floats: number }> = isVector({ rows, cols })
      ? { v: { label: `adafactor v ${name}`, floats: rows * cols } }
      : {
          r: { label: `adafactor row ${name}`, floats: rows },
          c: { label: `adafactor col ${name}`, floats: cols },
        };
    if (this.beta1 > 0) out.m = { label: `adafactor m ${name}`, floats: rows * cols };
    return out;
  }
}
