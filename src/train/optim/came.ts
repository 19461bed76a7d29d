// CAME on the GPU (Luo et al., "CAME: Confidence-guided Adaptive Memory Efficient Optimization",
// ACL 2023), following yangluo7/CAME's came_pytorch as docs/algorithms/came.md describes it:
// Adafactor's factored second moment with a constant β2 and update clipping, a momentum of the
// clipped update, and a confidence scaling 1/sqrt(S) from the rank-1 factored EMA (β3) of the
// instability (Û − M)² + ε2. Vectors keep dense V and M and step by M (no confidence), as the
// reference code does. Momentum is always on.
// State per m×n matrix: M (m·n) + R, Rr (m) + C, Rc (n) = mn + 2(m + n); per vector of n: 2n.
// A step allocates no m×n temporary: the instability is formed on the fly inside its row and column
// reductions (shaders/train/optim/factored.wgsl). Parameters of at most `fuseUpTo` elements step in one fused
// dispatch (fused.ts); larger ones in the passes below.

import body from '../../../shaders/train/optim/came.wgsl?raw';
import type { TrackedBuffer } from '../../gpu/ledger';
import type { GpuRuntime } from '../../gpu/runtime';
import { reduce } from '../../kernels/reduce';
import { factoredEma, factoredKernels } from './factored';
import { CLIPPING, DENSE_OPERANDS, FACTORED_OPERANDS, MOMENTUM } from './factoredFields';
import type { FusingOptions, StepSums } from './fused';
import { fusedStepModule, fusing, runFused, stepFusedOrPassed } from './fused';
import { checkPositive, checkRange, isVector, type ParamSlot } from './optimizer';
import { runPass, sumPass } from './passes';
import { BufferedOptimizer, type HeldState, StateBuffers } from './state';

const kernel = fusedStepModule('came', body);

// Both fused steps' scalars: the second moment's EMA and lr, then clipping, momentum and decay.
const FUSED_EMA = { lr: 'f32', beta2: 'f32', one_minus_beta2: 'f32' } as const;
const FUSED_UPDATE = { ...CLIPPING, ...MOMENTUM, weight_decay: 'f32' } as const;

/** The entry points of shaders/train/optim/came.wgsl, each with its uniform block. */
const cameKernels = {
  moment_factored: kernel(['moment_factored'], {
    ...FACTORED_OPERANDS,
    m: 'u32',
    inv_rows: 'f32',
    ...CLIPPING,
    ...MOMENTUM,
  }),
  moment_dense: kernel(['moment_dense'], { ...DENSE_OPERANDS, m: 'u32', ...CLIPPING, ...MOMENTUM }),
  apply_factored: kernel(['apply_factored'], {
    n: 'u32',
    start: 'u32',
    cols: 'u32',
    m: 'u32',
    rr: 'u32',
    rc: 'u32',
    slot: 'u32',
    w: 'u32',
    lr: 'f32',
    inv_rows: 'f32',
    weight_decay: 'f32',
  }),
  apply_dense: kernel(['apply_dense'], { n: 'u32', m: 'u32', w: 'u32', lr: 'f32', weight_decay: 'f32' }),
  fused_factored: kernel(['fused_factored'], {
    n: 'u32',
    cols: 'u32',
    ...FUSED_EMA,
    inv_rows: 'f32',
    ...FUSED_UPDATE,
    beta3: 'f32',
    one_minus_beta3: 'f32',
    eps1: 'f32',
    eps2: 'f32',
  }),
  fused_dense: kernel(['fused_dense'], { n: 'u32', ...FUSED_EMA, ...FUSED_UPDATE, eps1: 'f32' }),
};

/** (β1, β2, β3) of the CAME paper. */
export const DEFAULT_BETAS: [number, number, number] = [0.9, 0.999, 0.9999];

export interface CameOptions extends FusingOptions {
  /** (β1, β2, β3); default (0.9, 0.999, 0.9999). */
  betas?: [number, number, number];
  /** (ε1 added to G², ε2 added to the instability); default (1e-30, 1e-16). */
  eps?: [number, number];
  /** d in Û / max(1, RMS(Û)/d); default 1. */
  clipThreshold?: number;
  /** Decoupled, scaled by the learning rate; default 0 (the README's example uses 1e-2). */
  weightDecay?: number;
  checkFinite?: boolean;
}

/**
 * M, and matrices' second-moment and instability factors or vectors' dense V. CAME has no step
 * counter (no bias correction, a constant β2; docs/algorithms/came.md): t stays 0.
 */
type Buffers = {
  m: TrackedBuffer;
  r?: TrackedBuffer;
  c?: TrackedBuffer;
  rr?: TrackedBuffer;
  rc?: TrackedBuffer;
  v?: TrackedBuffer;
};
type State = HeldState<Buffers>;

/** Scalar slots per parameter: ΣR, ΣÛ², ΣRr, spare. */
const SLOTS = 4;

export class Came extends BufferedOptimizer<Buffers> {
  readonly name = 'CAME';
  readonly beta1: number;
  readonly beta2: number;
  readonly beta3: number;
  readonly eps1: number;
  readonly eps2: number;
  readonly clipThreshold: number;
  readonly weightDecay: number;
  readonly checkFinite: boolean;
  readonly fuseUpTo: number;
  readonly fusedGroup: number | undefined;
  protected readonly states = new StateBuffers<Buffers>(this.name, (p) => this.layout(p));

  constructor(options: CameOptions = {}) {
    super();
    [this.beta1, this.beta2, this.beta3] = options.betas ?? DEFAULT_BETAS;
    [this.eps1, this.eps2] = options.eps ?? [1e-30, 1e-16];
    this.clipThreshold = options.clipThreshold ?? 1;
    this.weightDecay = options.weightDecay ?? 0;
    this.checkFinite = options.checkFinite ?? true;
    ({ fuseUpTo: this.fuseUpTo, fusedGroup: this.fusedGroup } = fusing(this.name, options));
    checkRange(this.name, 'β1', this.beta1, 0, 1);
    checkRange(this.name, 'β2', this.beta2, 0, 1);
    checkRange(this.name, 'β3', this.beta3, 0, 1);
    checkPositive(this.name, 'ε1', this.eps1);
    checkPositive(this.name, 'ε2', this.eps2);
    checkPositive(this.name, 'clip threshold', this.clipThreshold);
    checkRange(this.name, 'weight decay', this.weightDecay, 0, Number.POSITIVE_INFINITY);
  }

  step(rt: GpuRuntime, params: ParamSlot[], lr: number): Promise<void> {
    return stepFusedOrPassed(rt, this, params, lr, (name) => this.states.get(name), {
      slots: SLOTS,
      fusedBindings: [4, 7],
      state: (slot) => this.states.of(rt, slot),
      fused: (slot, state, group) => this.stepFused(rt, slot, state, lr, group),
      passes: (slot, state, sums) => this.passes(rt, slot, state, lr, sums),
    });
  }

  /** The whole step of one parameter in one workgroup (shaders/train/optim/came.wgsl, fused_*). */
  private async stepFused(rt: GpuRuntime, slot: ParamSlot, s: State, lr: number, group: number) {
    const { rows, cols } = slot;
    const count = rows * cols;
    const factors =
      s.r && s.c && s.rr && s.rc
        ? [
            { buffer: s.r.buffer, length: rows },
            { buffer: s.c.buffer, length: cols },
            { buffer: s.rr.buffer, length: rows },
            { buffer: s.rc.buffer, length: cols },
          ]
        : [{ buffer: (s.v as TrackedBuffer).buffer, length: count }];
    const operands = [
      { buffer: slot.g, length: count },
      ...factors,
      { buffer: s.m.buffer, length: count },
      { buffer: slot.p, length: count },
    ];
    const values = {
      n: count,
      lr,
      beta2: this.beta2,
      one_minus_beta2: 1 - this.beta2,
      inv_count: 1 / count,
      d: this.clipThreshold,
      beta1: this.beta1,
      one_minus_beta1: 1 - this.beta1,
      weight_decay: this.weightDecay,
      eps1: this.eps1,
    };
    if (s.r)
      await runFused(rt, cameKernels.fused_factored, 'fused_factored', group, operands, {
        ...values,
        cols,
        inv_rows: 1 / rows,
        beta3: this.beta3,
        one_minus_beta3: 1 - this.beta3,
        eps2: this.eps2,
      });
    else await runFused(rt, cameKernels.fused_dense, 'fused_dense', group, operands, values);
  }

  /** The multi-pass step of one parameter. */
  private async passes(rt: GpuRuntime, slot: ParamSlot, s: State, lr: number, sums: StepSums) {
    const { scalars, at, partials } = sums;
    const { rows, cols } = slot;
    const count = rows * cols;
    const moment = {
      inv_count: 1 / count,
      d: this.clipThreshold,
      beta1: this.beta1,
      one_minus_beta1: 1 - this.beta1,
    };
    const apply = { lr, weight_decay: this.weightDecay };
    const slotOperand = { buffer: scalars, offset: at, whole: true };
    if (s.r && s.c && s.rr && s.rc) {
      await factoredEma(
        rt,
        { rows, cols, g: slot.g, r: s.r.buffer, c: s.c.buffer, beta: this.beta2 },
        this.eps1,
      );
      await reduce(rt, 'sum', rows, { buffer: s.r.buffer }, { buffer: scalars, offset: at });
      const factors = {
        r: { buffer: s.r.buffer, whole: true },
        c: { buffer: s.c.buffer, whole: true },
      };
      await sumPass(
        rt,
        factoredKernels.u2,
        count,
        { g: { buffer: slot.g }, ...factors, slot: slotOperand },
        { values: { cols, inv_rows: 1 / rows }, partials },
        { buffer: scalars, offset: at + 1 },
      );
      await runPass(
        rt,
        cameKernels.moment_factored,
        count,
        { g: { buffer: slot.g }, ...factors, slot: slotOperand, m: { buffer: s.m.buffer } },
        { values: { cols, inv_rows: 1 / rows, ...moment } },
      );
      await factoredEma(
        rt,
        { rows, cols, g: slot.g, r: s.rr.buffer, c: s.rc.buffer, beta: this.beta3 },
        this.eps2,
        {
          m: s.m.buffer,
          sqR: s.r.buffer,
          sqC: s.c.buffer,
          scalars,
          slot: at,
          clipThreshold: this.clipThreshold,
        },
      );
      await reduce(rt, 'sum', rows, { buffer: s.rr.buffer }, { buffer: scalars, offset: at + 2 });
      await runPass(
        rt,
        cameKernels.apply_factored,
        count,
        {
          m: { buffer: s.m.buffer },
          rr: { buffer: s.rr.buffer, whole: true },
          rc: { buffer: s.rc.buffer, whole: true },
          slot: slotOperand,
          w: { buffer: slot.p },
        },
        { values: { cols, inv_rows: 1 / rows, ...apply } },
      );
    } else {
      const v = (s.v as TrackedBuffer).buffer;
      await sumPass(
        rt,
        factoredKernels.dense,
        count,
        { g: { buffer: slot.g }, v: { buffer: v } },
        { values: { beta: this.beta2, one_minus_beta: 1 - this.beta2, eps: this.eps1 }, partials },
        { buffer: scalars, offset: at + 1 },
      );
      await runPass(
        rt,
        cameKernels.moment_dense,
        count,
        { g: { buffer: slot.g }, v: { buffer: v }, slot: slotOperand, m: { buffer: s.m.buffer } },
        { values: moment },
      );
      await runPass(
        rt,
        cameKernels.apply_dense,
        count,
        { m: { buffer: s.m.buffer }, w: { buffer: slot.p } },
        { values: apply },
      );
    }
  }

  protected floatsOf(s: State): number {
    const n = s.rows * s.cols;
    return n + (s.r ? 2 * (s.rows + s.cols) : n);
  }

  /** A parameter's state buffers: M, and a matrix's second-moment and instability factors or a vector's dense V. */
  private layout({ name, rows, cols }: { name: string; rows: number; cols: number }) {
    const out: Record<string, { label: string; floats: number }> = {
      m: { label: `came m ${name}`, floats: rows * cols },
    };
    if (isVector({ rows, cols })) out.v = { label: `came v ${name}`, floats: rows * cols };
    else {
      out.r = { label: `came row ${name}`, floats: rows };
      out.c = { label: `came col ${name}`, floats: cols };
      out.rr = { label: `came instability row ${name}`, floats: rows };
      out.rc = { label: `came instability col ${name}`, floats: cols };
    }
    return out;
  }
}
