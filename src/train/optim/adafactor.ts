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
import { FACTORED_SHADER, factoredEma } from './factored';
import { canFuse, checkFusedGroup, FUSE_UP_TO, fusedGroup, runFused, withFusedStep } from './fused';
import {
  checkLearningRate,
  checkParams,
  checkPositive,
  checkRange,
  isVector,
  type Optimizer,
  type ParamSlot,
  type StateBytes,
  stateBuffer,
} from './optimizer';
import { checkGradients, partialCount, runPass, Scratch, sumPass } from './passes';
import { checkImport, type OptimizerState, readBuffers, restoreBuffers } from './state';

const shader = withFusedStep(body);

export interface AdafactorOptions {
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
  /** Parameters of at most this many elements step in one fused dispatch (fused.ts); 0: never. */
  fuseUpTo?: number;
  /** Invocations of the fused workgroup (8, 16, 32 or 64); default fused.fusedGroup of the runtime. */
  fusedGroup?: number;
}

interface State {
  rows: number;
  cols: number;
  t: number;
  /** Matrices: row and column EMAs; vectors: the dense EMA in `v`. */
  r?: TrackedBuffer;
  c?: TrackedBuffer;
  v?: TrackedBuffer;
  m?: TrackedBuffer;
}

/** Scalar slots per parameter: ΣR, ΣÛ², ΣW², spare. */
const SLOTS = 4;

export class Adafactor implements Optimizer {
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
  private readonly states = new Map<string, State>();

  constructor(options: AdafactorOptions = {}) {
    this.beta1 = options.beta1 ?? 0;
    this.decayRate = options.decayRate ?? -0.8;
    [this.eps1, this.eps2] = options.eps ?? [1e-30, 1e-3];
    this.clipThreshold = options.clipThreshold ?? 1;
    this.weightDecay = options.weightDecay ?? 0;
    this.relativeStep = options.relativeStep ?? false;
    this.scaleParameter = options.scaleParameter ?? false;
    this.warmupInit = options.warmupInit ?? false;
    this.checkFinite = options.checkFinite ?? true;
    this.fuseUpTo = options.fuseUpTo ?? FUSE_UP_TO;
    this.fusedGroup = options.fusedGroup;
    if (this.fusedGroup !== undefined) checkFusedGroup(this.name, this.fusedGroup);
    checkRange(this.name, 'β1', this.beta1, 0, 1);
    checkRange(this.name, 'decay rate', this.decayRate, -1, 0, true);
    checkPositive(this.name, 'ε1', this.eps1);
    checkPositive(this.name, 'ε2', this.eps2);
    checkPositive(this.name, 'clip threshold', this.clipThreshold);
    checkRange(this.name, 'weight decay', this.weightDecay, 0, Number.POSITIVE_INFINITY);
    checkRange(this.name, 'fuse limit', this.fuseUpTo, 0, Number.POSITIVE_INFINITY);
    if (this.warmupInit && !this.relativeStep)
      throw new RangeError(`${this.name}: warm-up init needs the relative step`);
  }

  /** The step size ρ of step t (before parameter scaling). */
  stepSize(lr: number, t: number): number {
    if (!this.relativeStep) return lr;
    return Math.min(this.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t));
  }

  async step(rt: GpuRuntime, params: ParamSlot[], lr: number): Promise<void> {
    checkLearningRate(this.name, lr);
    checkParams(this.name, params, (name) => this.states.get(name));
    if (params.length === 0) return;
    if (this.checkFinite) await checkGradients(rt, this.name, params);
    const scratch = new Scratch(rt);
    try {
      const passed = params.filter((s) => !this.fuses(rt, s));
      const scalars = passed.length ? await scratch.buffer('adafactor scalars', SLOTS * passed.length) : null;
      const most = Math.max(0, ...passed.map((s) => s.rows * s.cols));
      const partials = passed.length
        ? await scratch.buffer('adafactor partials', partialCount(rt, most))
        : null;
      for (const slot of params) {
        const state = await this.state(rt, slot);
        const at = passed.indexOf(slot);
        if (at < 0) await this.stepFused(rt, slot, state, lr);
        else await this.stepOne(rt, slot, state, lr, scalars as GPUBuffer, SLOTS * at, partials as GPUBuffer);
      }
    } finally {
      scratch.destroy();
    }
  }

  /** f0…f8 of the update, the same in the fused step and the multi-pass apply pass. */
  private applyScalars(lr: number, t: number, rows: number, count: number): number[] {
    return [
      this.stepSize(lr, t),
      this.scaleParameter ? 1 : 0,
      this.eps2,
      1 / rows,
      1 / count,
      this.clipThreshold,
      this.beta1,
      1 - this.beta1,
      this.weightDecay,
    ];
  }

  private fuses(rt: GpuRuntime, slot: ParamSlot): boolean {
    return canFuse(rt, slot, this.fuseUpTo, isVector(slot) ? 4 : 5);
  }

  /** The whole step of one parameter in one workgroup (shaders/train/optim/adafactor.wgsl, fused_*). */
  private async stepFused(rt: GpuRuntime, slot: ParamSlot, state: State, lr: number): Promise<void> {
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
      {
        name: 'adafactor',
        code: shader,
        entryPoint: `fused_${state.r ? 'factored' : 'dense'}${state.m ? '_momentum' : ''}`,
      },
      this.fusedGroup ?? fusedGroup(rt),
      rows,
      cols,
      [{ buffer: slot.g, length: count }, ...second, { buffer: slot.p, length: count }, ...m],
      [...this.applyScalars(lr, state.t, rows, count), 1 - decay, decay, this.eps1],
    );
  }

  private async stepOne(
    rt: GpuRuntime,
    slot: ParamSlot,
    state: State,
    lr: number,
    scalars: GPUBuffer,
    at: number,
    partials: GPUBuffer,
  ): Promise<void> {
    const { rows, cols } = slot;
    const count = rows * cols;
    state.t++;
    const beta2t = 1 - state.t ** this.decayRate;
    const factoredKernel = (entryPoint: string) => ({ name: 'factored', code: FACTORED_SHADER, entryPoint });
    if (state.r && state.c) {
      await factoredEma(
        rt,
        { rows, cols, g: slot.g, r: state.r.buffer, c: state.c.buffer, beta: beta2t },
        this.eps1,
      );
      await reduce(rt, 'sum', rows, { buffer: state.r.buffer }, { buffer: scalars, offset: at });
      await sumPass(
        rt,
        factoredKernel('factored_u2'),
        count,
        [
          { buffer: slot.g },
          { buffer: state.r.buffer, whole: true },
          { buffer: state.c.buffer, whole: true },
          { buffer: scalars, offset: at, whole: true },
        ],
        { cols, scalars: [0, 0, 0, 1 / rows], partials },
        { buffer: scalars, offset: at + 1 },
      );
    } else {
      await sumPass(
        rt,
        factoredKernel('dense_sq'),
        count,
        [{ buffer: slot.g }, { buffer: (state.v as TrackedBuffer).buffer }],
        { scalars: [beta2t, 1 - beta2t, this.eps1], partials },
        { buffer: scalars, offset: at + 1 },
      );
    }
    if (this.scaleParameter) {
      await reduce(rt, 'sumsq', count, { buffer: slot.p }, { buffer: scalars, offset: at + 2 });
    }
    const uniforms = this.applyScalars(lr, state.t, rows, count);
    const momentum = state.m ? [{ buffer: state.m.buffer }] : [];
    const suffix = state.m ? '_momentum' : '';
    const second =
      state.r && state.c
        ? [
            { buffer: state.r.buffer, whole: true },
            { buffer: state.c.buffer, whole: true },
          ]
        : [{ buffer: (state.v as TrackedBuffer).buffer }];
    await runPass(
      rt,
      { name: 'adafactor', code: shader, entryPoint: `apply_${state.r ? 'factored' : 'dense'}${suffix}` },
      count,
      [
        { buffer: slot.g },
        ...second,
        { buffer: scalars, offset: at, whole: true },
        ...momentum,
        { buffer: slot.p },
      ],
      { cols, scalars: uniforms },
    );
  }

  stateBytes(): StateBytes {
    let floats = 0;
    for (const s of this.states.values()) {
      const n = s.rows * s.cols;
      floats += (s.r ? s.rows + s.cols : n) + (s.m ? n : 0);
    }
    return { persistent: 4 * floats, transient: 0 };
  }

  destroy(): void {
    for (const s of this.states.values()) for (const b of [s.r, s.c, s.v, s.m]) b?.destroy();
    this.states.clear();
  }

  async exportState(rt: GpuRuntime): Promise<OptimizerState> {
    const params = [];
    for (const [name, s] of this.states) {
      const buffers = await readBuffers(rt, { r: s.r, c: s.c, v: s.v, m: s.m });
      params.push({ name, rows: s.rows, cols: s.cols, t: s.t, buffers });
    }
    return { optimizer: this.name, params };
  }

  async importState(rt: GpuRuntime, state: OptimizerState, params: readonly ParamSlot[]): Promise<void> {
    const wanted = checkImport(this.name, state, params);
    this.destroy();
    // A state that fails part-way is dropped whole: no parameter steps from a mix of states.
    try {
      for (const [name, p] of wanted) {
        const buffers = await restoreBuffers(rt, this.name, p, this.layout(p));
        this.states.set(name, { rows: p.rows, cols: p.cols, t: p.t, ...buffers });
      }
    } catch (error) {
      this.destroy();
      throw error;
    }
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

  private async state(rt: GpuRuntime, slot: ParamSlot): Promise<State> {
    let state = this.states.get(slot.name);
    if (state) return state;
    state = { rows: slot.rows, cols: slot.cols, t: 0 };
    for (const [key, b] of Object.entries(this.layout(slot)))
      state[key as 'r' | 'c' | 'v' | 'm'] = await stateBuffer(rt, b.label, b.floats);
    this.states.set(slot.name, state);
    return state;
  }
}
