// Adapprox on the GPU (Zhao et al., "Adapprox: Adaptive Approximation in Adam Optimization via
// Randomized Low-Rank Matrices", arXiv:2403.14958), as docs/algorithms/adapprox.md reconstructs it
// (the § numbers below are that page's):
//
//   V   ← β2·max(Q·Uᵀ, 0) + (1−β2)·(G² + ε1)      dense m×n temporary; history clamped (§1.5)
//   Û   ← G / (sqrt(V) + ε),  Û ← Û / max(1, RMS(Û)/d)            uses the dense V (§1.2, §5.6)
//   M   ← β1·M + (1−β1)·Û     (β1 > 0; else M = Û)
//   W   ← W − η·(s·M + λ·W)   s = 1, or the cosine guidance of §1.7 [reconstruction, off by default]
//   Q,U ← AS-RSI(V)          re-compress for the next step (§1.3–§1.4, single pass)
//
// No bias correction and a constant β2 (§1.2, §1.9). Vectors, and matrices whose short side is
// below `denseBelow` (§1.8, default 8), keep a dense V and skip the compression.
//
// S-RSI, as implemented, entirely on the GPU (shaders/train/optim/srsi.wgsl; docs/training.md, "Adapprox"):
// Q lives on the short side of the matrix (§1.8). Ω is a fresh Gaussian (long side × w,
// w = min(k_prev + Δk, k_max) + p, at most the short side), drawn on the GPU from a counter-based
// hash of (seed, parameter, step) passed as a uniform, or, with the warm start (the default, l = 2;
// else l = 5), [U_prev / max V | randn]. Then l times: Y = V·Ω / max V; the thin QR of Y in one workgroup (two shifted CholeskyQR
// passes, then CholeskyQR2 on the last iteration only: before it, only Q's span matters);
// Ω ← Vᵀ·Q / max V. Every product is taken with V / max V so that no Gram underflows f32 however
// small V is. Then one workgroup forms the w×w Gram of U, diagonalises it by parallel Jacobi,
// writes the error of every rank (‖V − QUᵀ‖² = ‖V‖² − ‖U‖², with ‖V / max V‖² from the GPU's
// scaled sum) and the chosen rank, the smallest j ≤ min(k_prev + Δk, k_max) with relative
// error ≤ ξ_thr, else that cap (§1.4, a reconstruction: the paper's rule was not recovered), into
// the step's scalar buffer. Nothing is read back there: each matrix's new factors wait in its
// sketch buffers, and at the end of the step ONE read-back brings every matrix's rank (with the
// gradient counts of the fused step; a separate gradient check where a parameter takes the
// multi-pass step reads back once more). Then Q and U are reallocated
// where the rank changed and filled on the GPU with Q·E_k and max V·U·E_k (rotated into
// singular-vector order, §1.3). The float64 QR, eigensolver and rank rule are the tests'
// reference (srsi.reference.ts, srsi.ts).
// Kernels: the history Q·Uᵀ is formed inside the second-moment pass (a GEMM epilogue),
// which also takes max V by an atomic max, and the sketch's products run on a barrier-free skinny
// kernel, both when their operands fit one storage binding; otherwise the tiled, windowed GEMM of
// kernels/matmul.ts does them. The sketch, the QR's scratch and the factors must fit one binding
// each (checked before the step: GpuLimitError).
// Small matrices (m·n·w·l < fuseBelow) run the whole S-RSI in one workgroup instead, as the
// workgroups of ONE dispatch per step (srsiGpuBatch.ts), their V alive at once in a batch buffer
// (up to batchBytes) where their step writes it; that dispatch also rotates each one's new factors
// into its V's place, from where two copies fill Q and U after the read-back.
// Small parameters (at most fuseStepUpTo elements) run the rest of the step (second moment with
// the history, max V, clipping, M, guidance, W, Σ (V / max V)²) in one workgroup each too, all of
// them in one dispatch (adapproxStep.ts; a matrix outside the S-RSI batch in its own, before its
// S-RSI); larger ones take the passes below. Dispatches per step with every parameter small: one
// fused step, which also counts each gradient's NaN and infinite entries, and one S-RSI batch for
// all (AdamW: two per parameter); see bench/README.md.
//
// State per factored m×n matrix: M (m·n, with β1 > 0) + Q (short × k) + U (long × k) = mn + k(m+n)
// floats, with k the current rank (or k_max from the start with `preallocate`, as the paper did,
// §1.1); dense parameters: V (+ M). Transient: per factored matrix, its sketch ((m+n)·w), the w×w
// scratch (3w² + 2⌈w/2⌉ + w) and its record (w + 2), held until the end of the step; the batched
// matrices' V (each aligned, with its U_prev copy) and their table; the dense V of the largest
// other factored matrix (one buffer, matrix after matrix)
// (docs/training.md, "Memory (exact)").

import type { TrackedBuffer } from '../../gpu/ledger';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import { type MatmulArgs, matmul } from '../../kernels/matmul';
import { rowsPerWindow } from '../../kernels/operands';
import { foldGrid } from '../../kernels/params';
import { reduce } from '../../kernels/reduce';
import { bindWindow, span, windowCapacity } from '../../kernels/window';
import { adapproxKernels } from './adapproxKernels';
import {
  canFuseStep,
  planFusedSteps,
  runFusedSteps,
  STEP_GROUPS,
  STEP_TABLE_WORDS,
  type StepBuffers,
  type StepPlan,
  type StepShape,
  stepGroup,
} from './adapproxStep';
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
import { checkGradients, PASS_BLOCK, partialCount, runPass, Scratch, sumPass } from './passes';
import { sketchKey } from './srsi';
import {
  checkSketchFits,
  choleskyQr3,
  eigenRank,
  recordFloats,
  rotateFactors,
  sketchLayout,
  srsiSmall,
} from './srsiGpu';
import {
  type BatchEntry,
  type BatchPlacement,
  type BatchPlan,
  type BatchShape,
  packSrsiTable,
  planSrsiBatches,
  SRSI_TABLE_WORDS,
  srsiBatch,
} from './srsiGpuBatch';
import { checkImport, type OptimizerState, type ParamState, readBuffers, restoreBuffers } from './state';

/** A rank bound: one number for every matrix, or a rule of its shape. */
export type RankBound = number | ((rows: number, cols: number) => number);

/** Cosine guidance (§1.7, a reconstruction): s = (1 + c)/2 ('half') or max(c, 0) ('positive'). */
export type Guidance = 'off' | 'half' | 'positive';

export interface AdapproxOptions {
  /** First-moment decay; 0 keeps no M (the update is Û itself). Default 0.9. */
  beta1?: number;
  /** Constant second-moment decay, no bias correction (§1.9). Default 0.999. */
  beta2?: number;
  /** In the denominator sqrt(V) + ε. Default 1e-8. */
  eps?: number;
  /** Added to G² inside V (§1.5). Default 1e-30. */
  eps1?: number;
  /** d of the update clipping. Default 1. */
  clipThreshold?: number;
  /** Decoupled, scaled by the learning rate, as AdamW's. Default 1e-2. */
  weightDecay?: number;
  /** Default 1. */
  kMin?: RankBound;
  /** Default ⌊min(m, n)/4⌋ (at least 1), the bound that reproduces the paper's memory figures (§3). */
  kMax?: RankBound;
  /** The rank of the first sketch. Default kMin. */
  k0?: RankBound;
  /** The most the rank grows per step. Default 8. */
  deltaK?: number;
  /** ξ_thr, the relative Frobenius error the rank aims for. Default 0.03. */
  errorThreshold?: number;
  /** p, extra sketch columns. Default 5. */
  oversampling?: number;
  /** l, power iterations. Default 2 with the warm start, 5 without it (§1.9). */
  powerIterations?: number;
  /**
   * Ω = [U_prev | randn] instead of a fresh Gaussian (§1.3, an allowed speed-up). Default true: the
   * second moment's dominant subspace moves little from one step to the next, so a sketch that starts
   * from last step's U needs 2 power iterations where a fresh one needs 5, and at small scale the
   * S-RSI's products are most of Adapprox's cost (docs/training.md, "Adapprox"). false is the cold
   * start (a fresh Gaussian every step, l = 5).
   */
  warmStart?: boolean;
  /** Allocate Q and U for k_max at once (as the paper did, §1.1). Default false: they follow the rank. */
  preallocate?: boolean;
  /** Matrices whose short side is below this keep a dense V (§1.8). Default 8. */
  denseBelow?: number;
  guidance?: Guidance;
  /** Seeds the Gaussian test matrices; a run replays exactly from it. Default 1. */
  seed?: number;
  /**
   * Matrices with m·n·w·l below this (and V within one storage binding) run their whole S-RSI in one
   * workgroup, one dispatch (shaders/train/optim/srsi.wgsl srsi_small), instead of 2l + 2 dispatches. Default
   * 2²¹: on SwiftShader a dispatch costs more than that much arithmetic in one workgroup. Measured on
   * nano's and tiny's shapes: 2¹⁸ beat 0, 2²⁰ and 2²³ with one scalar product per invocation; with
   * the products in 4 × 4 register tiles and a workgroup of 8 (srsi.wgsl fs_product), 2²⁰ beat 2¹⁸
   * at tiny and tied at nano; 2²¹ did not measurably beat 2²⁰ (two bench runs each, busy machine).
   * With the products in 8 × 8 blocks and Dawn's polls paced, 2²¹, which batches tiny's 512 × 64
   * embedding too, beat 2²⁰ by 10–16 ms of 107–113 in three alternated pairs (idle machine,
   * bench/README.md), so 2²¹ is the default. 0 turns it off.
   */
  fuseBelow?: number;
  /**
   * Parameters of at most this many elements (whose operands each fit one storage binding) run the
   * rest of their step (second moment, clipping, M, W) in one single-workgroup dispatch
   * (adapproxStep.ts) instead of the multi-pass path. Default 65536, which covers every tensor of
   * the nano and tiny presets; 0 turns it off.
   */
  fuseStepUpTo?: number;
  /** Invocations of that workgroup (8, 16, 32, 64, 128 or 256). Default 8 on a CPU adapter, 256 on a GPU. */
  stepGroup?: number;
  /** Invocations of the one-workgroup S-RSI's workgroup (4 to 256). Default 4 on a CPU adapter, 64 on a GPU (srsiWorkgroup). */
  srsiGroup?: number;
  /**
   * The matrices that take the one-workgroup S-RSI run as the workgroups of one dispatch per step
   * (srsiGpuBatch.ts), which needs every such matrix's dense V alive at once. This caps those V
   * buffers (with the warm start's U_prev copies), in bytes; matrices past it keep the per-matrix
   * path (one V buffer reused matrix after matrix). Default 16 MiB (nano needs 0.2 MiB, tiny
   * 2.6 MiB); 0 turns the batch off.
   */
  batchBytes?: number;
  checkFinite?: boolean;
  /**
   * Called for each compressed matrix with its GPU buffers before the dense V is freed (for
   * diagnostics that compare the factors with V, such as the error identity).
   */
  inspect?: (view: AdapproxInspection) => void | Promise<void>;
}

export interface AdapproxDiagnostics {
  name: string;
  rows: number;
  cols: number;
  /** False for vectors and small matrices, which keep a dense V. */
  factored: boolean;
  rank: number;
  sketchWidth: number;
  /** ξ at the chosen rank: ‖V − QUᵀ‖_F / ‖V‖_F as estimated from the sketch's spectrum. */
  relativeError: number;
  /** Entries of β2·Q·Uᵀ that were negative and clamped to 0 this step, as a fraction. */
  clampedFraction: number;
}

export interface AdapproxInspection extends AdapproxDiagnostics {
  /** rows × cols, this step's dense V. */
  v: GPUBuffer;
  /** short × rank and long × rank, row-major with row length `stride`. */
  q: GPUBuffer;
  u: GPUBuffer;
  stride: number;
  /** Whether Q holds the row side (rows ≤ cols), so V ≈ Q·Uᵀ; else V ≈ U·Qᵀ. */
  qOnRows: boolean;
  /** ‖V‖²_F as the GPU summed it. */
  normSquared: number;
  /** ξ_j for j = 0…w. */
  errors: Float64Array;
}

interface State {
  rows: number;
  cols: number;
  t: number;
  m?: TrackedBuffer;
  /** Dense parameters: V. */
  v?: TrackedBuffer;
  /** Factored parameters. */
  factored?: {
    q?: TrackedBuffer;
    u?: TrackedBuffer;
    k: number;
    stride: number;
    kMin: number;
    kMax: number;
    k0: number;
    short: number;
    long: number;
    qOnRows: boolean;
  };
  diagnostics?: AdapproxDiagnostics;
}

/** Scalar slots per parameter (see shaders/train/optim/adapprox.wgsl). */
const SLOTS = 8;

/** A matrix whose new factors wait in its sketch buffers for the rank the GPU chose. */
interface Compressed {
  slot: ParamSlot;
  state: State;
  w: number;
  /** Slot offset of the parameter in the scalar buffer. */
  at: number;
  /** Offset of its record (ξ_0…ξ_w, k) in the scalar buffer. */
  record: number;
  /** Ω/U, Y/Q and the scratch (srsiGpu.ts sketchLayout), from element `base` of `sketch`. */
  sketch: GPUBuffer;
  base: number;
  v: GPUBuffer;
  /** Batched: the new factors wait rotated in V's place, from element `vOffset` of `v` (srsiGpuBatch.ts). */
  vOffset?: number;
  scalars: GPUBuffer;
}

/** The sketch of the next compression: its width w and the rank cap min(k_prev + Δk, k_max). */
interface SketchSize {
  w: number;
  kCap: number;
}

/** A factored matrix's part of the step: where its dense V goes, its sketch's size, its record. */
interface MatrixStep {
  v: GPUBuffer;
  /** V's element offset in `v` (on the storage-offset alignment; 0 outside a batch). */
  vOffset: number;
  size: SketchSize;
  record: number;
  scratch: Scratch;
  /**
   * Set when its S-RSI runs in a batch: the batch's sketch buffer and where this matrix's starts,
   * and where its V starts (where the batch leaves its new factors).
   */
  batched?: { sketch: GPUBuffer; base: number; vOffset: number };
}

/** A step's fused steps: their plan, its table and each group's buffers as stepOne gathers them. */
interface FusedSteps {
  plan: StepPlan;
  groupOf: Map<string, number>;
  table: GPUBuffer | undefined;
  buffers: StepBuffers[][];
  scratch: Scratch;
  /** The copies of the state out of the arenas, recorded at the step's end (runFusedSteps). */
  stateOut: (() => void)[];
}

/** Whether a whole buffer can be bound as one storage binding. */
function fitsBinding(rt: GpuRuntime, b: { buffer: GPUBuffer } | undefined): boolean {
  return b !== undefined && b.buffer.size <= rt.limits.maxStorageBufferBindingSize;
}

export class Adapprox implements Optimizer {
  readonly name = 'Adapprox';
  /** For the UI: how the pieces the paper leaves open are done here. */
  readonly methods = {
    factorization:
      'thin QR (shifted CholeskyQR, then CholeskyQR2) and Jacobi eigendecomposition of the Gram of U, on the GPU in float32',
    rankRule:
      'single pass: smallest rank with error ≤ ξ_thr up to k_prev + Δk (docs/algorithms/adapprox.md §1.4, reconstruction)',
    clamp: 'history clamped at 0 before adding (1−β2)·G² (docs/algorithms/adapprox.md §1.5, reconstruction)',
    guidance:
      'cosine of momentum and clipped update, s = (1+c)/2 or max(c,0) (docs/algorithms/adapprox.md §1.7, reconstruction)',
  } as const;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly eps1: number;
  readonly clipThreshold: number;
  readonly weightDecay: number;
  readonly deltaK: number;
  readonly errorThreshold: number;
  readonly oversampling: number;
  readonly powerIterations: number;
  readonly warmStart: boolean;
  readonly preallocate: boolean;
  readonly denseBelow: number;
  readonly guidance: Guidance;
  readonly seed: number;
  readonly fuseBelow: number;
  readonly fuseStepUpTo: number;
  readonly batchBytes: number;
  readonly checkFinite: boolean;
  private readonly stepGroup: number | undefined;
  private readonly srsiGroup: number | undefined;
  private readonly kMin: RankBound;
  private readonly kMax: RankBound;
  private readonly k0: RankBound | undefined;
  private readonly inspect: AdapproxOptions['inspect'];
  private readonly states = new Map<string, State>();
  private lastTransient = 0;

  constructor(options: AdapproxOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.eps1 = options.eps1 ?? 1e-30;
    this.clipThreshold = options.clipThreshold ?? 1;
    this.weightDecay = options.weightDecay ?? 1e-2;
    this.kMin = options.kMin ?? 1;
    this.kMax = options.kMax ?? ((rows, cols) => Math.max(1, Math.floor(Math.min(rows, cols) / 4)));
    this.k0 = options.k0;
    this.deltaK = options.deltaK ?? 8;
    this.errorThreshold = options.errorThreshold ?? 0.03;
    this.oversampling = options.oversampling ?? 5;
    this.warmStart = options.warmStart ?? true;
    this.powerIterations = options.powerIterations ?? (this.warmStart ? 2 : 5);
    this.preallocate = options.preallocate ?? false;
    this.denseBelow = options.denseBelow ?? 8;
    this.guidance = options.guidance ?? 'off';
    this.seed = options.seed ?? 1;
    this.fuseBelow = options.fuseBelow ?? 2 ** 21;
    this.fuseStepUpTo = options.fuseStepUpTo ?? 65536;
    this.batchBytes = options.batchBytes ?? 16 * 2 ** 20;
    this.stepGroup = options.stepGroup;
    this.srsiGroup = options.srsiGroup;
    this.checkFinite = options.checkFinite ?? true;
    this.inspect = options.inspect;
    const n = this.name;
    checkRange(n, 'β1', this.beta1, 0, 1);
    checkRange(n, 'β2', this.beta2, 0, 1);
    checkPositive(n, 'ε', this.eps);
    checkPositive(n, 'ε1', this.eps1);
    checkPositive(n, 'clip threshold', this.clipThreshold);
    checkRange(n, 'weight decay', this.weightDecay, 0, Number.POSITIVE_INFINITY);
    checkRange(n, 'batchBytes', this.batchBytes, 0, Number.POSITIVE_INFINITY);
    checkRange(n, 'error threshold ξ_thr', this.errorThreshold, 0, 1, true);
    for (const [what, value, min] of [
      ['Δk', this.deltaK, 0],
      ['oversampling p', this.oversampling, 0],
      ['power iterations l', this.powerIterations, 1],
      ['denseBelow', this.denseBelow, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < min)
        throw new RangeError(`${n}: ${what} must be an integer ≥ ${min}, got ${value}`);
    }
    for (const [what, bound] of [
      ['k_min', this.kMin],
      ['k_max', this.kMax],
      ['k0', this.k0],
    ] as const) {
      if (typeof bound === 'number' && (!Number.isInteger(bound) || bound < 1))
        throw new RangeError(`${n}: ${what} must be an integer ≥ 1, got ${bound}`);
    }
    if (this.stepGroup !== undefined && !(STEP_GROUPS as readonly number[]).includes(this.stepGroup))
      throw new RangeError(`${n}: stepGroup must be ${STEP_GROUPS.join(', ')}, got ${this.stepGroup}`);
    if (!['off', 'half', 'positive'].includes(this.guidance))
      throw new RangeError(`${n}: guidance must be 'off', 'half' or 'positive', got ${this.guidance}`);
    if (this.guidance !== 'off' && this.beta1 === 0)
      throw new RangeError(`${n}: cosine guidance compares the momentum with the update, so it needs β1 > 0`);
    if (!Number.isInteger(this.seed) || this.seed < 0 || this.seed > 0xffffffff)
      throw new RangeError(`${n}: the seed must be a u32, got ${this.seed}`);
  }

  async step(rt: GpuRuntime, params: ParamSlot[], lr: number): Promise<void> {
    checkLearningRate(this.name, lr);
    checkParams(this.name, params, (name) => this.states.get(name));
    if (params.length === 0) return;
    // Rank bounds and the sketch's binding sizes are checked for every parameter before anything is
    // allocated or written.
    const plans = new Map(params.filter((s) => !this.states.has(s.name)).map((s) => [s.name, this.plan(s)]));
    const sizes = new Map<string, SketchSize>();
    for (const slot of params) {
      const f = this.states.get(slot.name)?.factored ?? plans.get(slot.name);
      if (!f) continue;
      const size = this.sketchSize(f);
      const stride = this.preallocate ? f.kMax : size.kCap;
      checkSketchFits(rt, slot.name, { short: f.short, long: f.long, w: size.w, stride });
      sizes.set(slot.name, size);
    }
    const batch = this.planBatch(rt, params, plans, sizes);
    const fused = this.planSteps(rt, params, plans, batch.at);
    // Where every parameter takes the fused step, that kernel counts each gradient's NaN and
    // infinite entries, and the step's one read-back brings the counts with the ranks: W, M, the
    // dense V, Q and U are written only after it, so a bad gradient still changes nothing (check).
    // Else the gradients are checked first, a dispatch per parameter and a read-back of its own.
    const checkInStep = this.checkFinite && !this.inspect && fused.groupOf.size === params.length;
    if (this.checkFinite && !checkInStep) await checkGradients(rt, this.name, params);
    const before = new Map(params.map((s) => [s.name, this.states.get(s.name)?.t]));
    const stateOut: (() => void)[] = [];
    const scratch = new Scratch(rt);
    try {
      // One buffer holds every parameter's scalar slots and every matrix's record, so that the
      // step's single read-back brings all chosen ranks at once.
      const records = new Map<string, number>();
      let floats = SLOTS * params.length;
      for (const slot of params) {
        const size = sizes.get(slot.name);
        if (!size) continue;
        records.set(slot.name, floats);
        floats += recordFloats(size.w);
      }
      const scalars = await scratch.buffer('adapprox scalars', floats);
      const most = Math.max(...params.map((s) => s.rows * s.cols));
      const partials = await scratch.buffer('adapprox partials', partialCount(rt, most));
      // The dense V of the factored matrices outside the batch, one after another in the same
      // buffer; each matrix's sketch stays until its factors are written at the end of the step.
      const factoredMost = Math.max(
        0,
        ...params.filter((s) => sizes.has(s.name) && !batch.at.has(s.name)).map((s) => s.rows * s.cols),
      );
      const v = factoredMost > 0 ? await scratch.buffer('adapprox V', factoredMost) : undefined;
      const batchV: GPUBuffer[] = [];
      const batchSketch: GPUBuffer[] = [];
      for (const [b, group] of batch.plan.batches.entries()) {
        batchV.push(await scratch.buffer(`adapprox batch V ${b}`, group.vFloats));
        batchSketch.push(await scratch.buffer(`adapprox batch sketch ${b}`, group.sketchFloats));
      }
      this.lastTransient =
        4 *
        (factoredMost +
          fused.plan.dispatches.reduce((sum, d) => sum + d.arenaFloats, 0) +
          fused.groupOf.size * STEP_TABLE_WORDS +
          batch.plan.batches.reduce((sum, g) => sum + g.vFloats + g.sketchFloats, 0) +
          (batch.plan.entries > 0 ? batch.plan.entries * SRSI_TABLE_WORDS : 0) +
          params.reduce((sum, s) => {
            const w = sizes.get(s.name)?.w;
            if (w === undefined) return sum;
            if (batch.at.has(s.name)) return sum + recordFloats(w);
            const short = Math.min(s.rows, s.cols);
            const long = Math.max(s.rows, s.cols);
            // Where V exceeds one binding, the tiled GEMM's product waits in a buffer of its own.
            const windowed = 4 * s.rows * s.cols > rt.limits.maxStorageBufferBindingSize ? long * w : 0;
            return sum + sketchLayout(short, long, w).floats + recordFloats(w) + windowed;
          }, 0));
      let table: GPUBuffer | undefined;
      if (batch.plan.entries > 0) {
        // Written before anything of the step is recorded (after the gradient check's read-back,
        // where there is one), so that the write costs no submission of its own; with the warm
        // start's U_prev copies.
        const copies: { from: GPUBuffer; to: GPUBuffer; at: number }[] = [];
        const entries = params.flatMap((slot, index): BatchEntry[] => {
          const placement = batch.at.get(slot.name);
          const size = sizes.get(slot.name);
          const f = this.states.get(slot.name)?.factored ?? plans.get(slot.name);
          if (!placement || !size || !f) return [];
          const warm = this.warmUp(f);
          if (warm) copies.push({ from: warm, to: batchV[placement.batch] as GPUBuffer, at: placement.u0 });
          return [
            {
              rows: slot.rows,
              cols: slot.cols,
              w: size.w,
              slot: SLOTS * index,
              record: records.get(slot.name) as number,
              kMin: f.kMin,
              kCap: size.kCap,
              key: sketchKey(this.seed, slot.name, (this.states.get(slot.name)?.t ?? 0) + 1),
              iterations: this.powerIterations,
              threshold: this.errorThreshold,
              taken: warm ? f.k : 0,
              uStride: warm ? f.stride : 0,
              outStride: this.preallocate ? f.kMax : 0,
              placement,
            },
          ];
        });
        const words = packSrsiTable(entries);
        table = await scratch.buffer('adapprox S-RSI table', words.length);
        rt.write(table, words);
        for (const c of copies) rt.copy(c.from, c.to, c.from.size, 0, 4 * c.at);
      }
      // The fused steps' table, written at the same point for the same reason.
      const steps: FusedSteps = {
        ...fused,
        table:
          fused.groupOf.size > 0
            ? await scratch.buffer('adapprox step table', fused.plan.table.length)
            : undefined,
        buffers: fused.plan.groups.map(() => []),
        scratch,
        stateOut,
      };
      if (steps.table) rt.write(steps.table, fused.plan.table);
      const compressed: Compressed[] = [];
      for (const [index, slot] of params.entries()) {
        const state =
          this.states.get(slot.name) ?? (await this.create(rt, slot, plans.get(slot.name) ?? null));
        const size = sizes.get(slot.name);
        const at = SLOTS * index;
        const placement = batch.at.get(slot.name);
        const record = records.get(slot.name) as number;
        let matrix: MatrixStep | undefined;
        if (size && placement)
          matrix = {
            v: batchV[placement.batch] as GPUBuffer,
            vOffset: placement.v0,
            size,
            record,
            scratch,
            batched: {
              sketch: batchSketch[placement.batch] as GPUBuffer,
              base: placement.s0,
              vOffset: placement.v0,
            },
          };
        else if (size && v) matrix = { v, vOffset: 0, size, record, scratch };
        const done = await this.stepOne(rt, slot, state, lr, scalars, at, partials, matrix, steps);
        if (!done) continue;
        if (this.inspect) {
          // Diagnostics look at this matrix's V, which the next matrix overwrites: finish it now.
          const view = await this.finish(rt, scalars, [done]);
          await this.inspect(view[0] as AdapproxInspection);
        } else compressed.push(done);
      }
      // The fused steps of the batched matrices and the dense parameters, which write every batched
      // matrix's V; then their S-RSI, one dispatch per batch.
      await this.runSteps(rt, steps, 0, scalars, lr);
      for (const [b, group] of batch.plan.batches.entries())
        rt.submit([
          await srsiBatch(rt, {
            group,
            v: batchV[b] as GPUBuffer,
            sketch: batchSketch[b] as GPUBuffer,
            scalars,
            table: table as GPUBuffer,
            workgroup: this.srsiGroup,
          }),
        ]);
      await this.finish(
        rt,
        scalars,
        compressed,
        checkInStep
          ? { slots: SLOTS * params.length, check: (f32) => this.check(rt, params, f32, before) }
          : undefined,
      );
      for (const copy of stateOut) copy();
    } finally {
      scratch.destroy();
    }
  }

  /**
   * Refuses the step when its fused kernel counted a non-finite gradient entry (slot +6), after
   * undoing what the step changed on the host: each parameter's step count, and the state of a
   * parameter it met for the first time. The error (NonFiniteGradientError, with each parameter's
   * NaN and infinite counts) comes from checkGradients on the parameters concerned.
   */
  private async check(
    rt: GpuRuntime,
    params: readonly ParamSlot[],
    f32: Float32Array,
    before: ReadonlyMap<string, number | undefined>,
  ): Promise<void> {
    const bad = params.filter((_, i) => (f32[SLOTS * i + 6] as number) > 0);
    if (bad.length === 0) return;
    for (const slot of params) {
      const t = before.get(slot.name);
      const state = this.states.get(slot.name);
      if (!state) continue;
      if (t !== undefined) state.t = t;
      else {
        for (const b of [state.m, state.v]) b?.destroy();
        this.states.delete(slot.name);
      }
    }
    await checkGradients(rt, this.name, bad);
    throw new Error(
      `${this.name}: the step counted non-finite gradient entries that a second check did not find`,
    );
  }

  /**
   * The fused steps of this step (adapproxStep.ts) in groups: group 0 holds the dense parameters and
   * the batched matrices, which run together after every other parameter's step; each other
   * factored matrix runs its own group right before its S-RSI, which reads its V from the buffer
   * that every such matrix reuses.
   */
  private planSteps(
    rt: GpuRuntime,
    params: readonly ParamSlot[],
    plans: Map<string, State['factored'] | null>,
    batched: Map<string, BatchPlacement>,
  ): { plan: StepPlan; groupOf: Map<string, number> } {
    const groups: StepShape[][] = [[]];
    const groupOf = new Map<string, number>();
    for (const [index, slot] of params.entries()) {
      const f = this.states.get(slot.name)?.factored ?? plans.get(slot.name) ?? undefined;
      if (!this.fusesStep(rt, slot, f)) continue;
      const history =
        f?.q && f.u && f.k > 0
          ? {
              k: f.k,
              stride: f.stride,
              qFloats: f.q.buffer.size / 4,
              uFloats: f.u.buffer.size / 4,
              qOnRows: f.qOnRows,
            }
          : undefined;
      const shape = {
        rows: slot.rows,
        cols: slot.cols,
        slot: SLOTS * index,
        dense: !f,
        beta2: !f || history ? this.beta2 : 0,
        history,
      };
      const group = f && !batched.has(slot.name) ? groups.push([]) - 1 : 0;
      (groups[group] as StepShape[]).push(shape);
      groupOf.set(slot.name, group);
    }
    const plan = planFusedSteps(groups, this.beta1 > 0, {
      bindingBytes: rt.limits.maxStorageBufferBindingSize,
      maxWorkgroups: rt.limits.maxComputeWorkgroupsPerDimension,
    });
    return { plan, groupOf };
  }

  /** Records group `group` of the fused steps, whose buffers stepOne has gathered. */
  private async runSteps(
    rt: GpuRuntime,
    steps: FusedSteps,
    group: number,
    scalars: GPUBuffer,
    lr: number,
  ): Promise<void> {
    const buffers = steps.buffers[group] as StepBuffers[];
    if (buffers.length === 0 || !steps.table) return;
    await runFusedSteps(rt, steps.plan, group, buffers, {
      table: steps.table,
      scalars,
      arena: (floats) => steps.scratch.buffer(`adapprox step arena ${group}`, floats),
      stateOut: steps.stateOut,
      settings: {
        momentum: this.beta1 > 0,
        guidance: { off: 0, half: 1, positive: 2 }[this.guidance],
        oneMinusBeta2: 1 - this.beta2,
        eps1: this.eps1,
        eps: this.eps,
        clipThreshold: this.clipThreshold,
        beta1: this.beta1,
        lr,
        weightDecay: this.weightDecay,
        group: this.stepGroup ?? stepGroup(rt),
      },
    });
  }

  /** The previous U when this step's sketch starts from it (the warm start), else undefined. */
  private warmUp(f: NonNullable<State['factored']>): GPUBuffer | undefined {
    return this.warmStart && f.k > 0 && f.u ? f.u.buffer : undefined;
  }

  /** Whether a parameter's step (second moment to W) runs as the one-dispatch fused step. */
  private fusesStep(rt: GpuRuntime, slot: ParamSlot, f: State['factored'] | undefined | null): boolean {
    const count = slot.rows * slot.cols;
    const factors = f?.q && f.u && f.k > 0 ? [f.q.buffer.size / 4, f.u.buffer.size / 4] : [];
    return count <= this.fuseStepUpTo && canFuseStep(rt, count, factors);
  }

  /** Whether a matrix's whole S-RSI runs in one workgroup (srsi_small, or a batch's workgroup). */
  private smallSrsi(rt: GpuRuntime, slot: ParamSlot, w: number): boolean {
    const count = slot.rows * slot.cols;
    return (
      4 * count <= rt.limits.maxStorageBufferBindingSize && count * w * this.powerIterations < this.fuseBelow
    );
  }

  /**
   * Which factored matrices run their S-RSI in a batch (srsiGpuBatch.ts): those with the
   * one-workgroup S-RSI whose step can write V at an offset of the batch's buffer (the fused step
   * always; the multi-pass path unless its history needs the tiled GEMM, which writes a whole
   * buffer), within batchBytes, and not while `inspect` looks at each V before the next matrix (it
   * finishes matrices one by one).
   */
  private planBatch(
    rt: GpuRuntime,
    params: readonly ParamSlot[],
    plans: Map<string, State['factored'] | null>,
    sizes: Map<string, SketchSize>,
  ): { plan: BatchPlan; at: Map<string, BatchPlacement> } {
    const candidates: { name: string; shape: BatchShape }[] = [];
    if (this.batchBytes > 0 && !this.inspect)
      for (const slot of params) {
        const size = sizes.get(slot.name);
        const f = this.states.get(slot.name)?.factored ?? plans.get(slot.name);
        if (!size || !f || !this.smallSrsi(rt, slot, size.w)) continue;
        const gemmHistory = f.k > 0 && !(fitsBinding(rt, f.q) && fitsBinding(rt, f.u));
        if (!this.fusesStep(rt, slot, f) && gemmHistory) continue;
        const warm = this.warmUp(f);
        candidates.push({
          name: slot.name,
          shape: {
            rows: slot.rows,
            cols: slot.cols,
            w: size.w,
            warmFloats: warm ? warm.size / 4 : 0,
            factorFloats: (f.short + f.long) * (this.preallocate ? f.kMax : size.kCap),
          },
        });
      }
    const plan = planSrsiBatches(
      candidates.map((c) => c.shape),
      {
        bindingBytes: rt.limits.maxStorageBufferBindingSize,
        alignBytes: rt.limits.minStorageBufferOffsetAlignment,
        maxMatrices: rt.limits.maxComputeWorkgroupsPerDimension,
        budgetBytes: this.batchBytes,
      },
    );
    const at = new Map<string, BatchPlacement>();
    for (const [i, c] of candidates.entries()) {
      const p = plan.placements[i];
      if (p) at.set(c.name, p);
    }
    return { plan, at };
  }

  /** Rank, error and clamping of every parameter at its last step. */
  diagnostics(): AdapproxDiagnostics[] {
    return [...this.states.values()].flatMap((s) => (s.diagnostics ? [s.diagnostics] : []));
  }

  stateBytes(): StateBytes {
    let floats = 0;
    for (const s of this.states.values()) {
      const n = s.rows * s.cols;
      if (s.m) floats += n;
      if (s.v) floats += n;
      if (s.factored?.q) floats += s.factored.stride * (s.rows + s.cols);
    }
    return { persistent: 4 * floats, transient: this.lastTransient };
  }

  destroy(): void {
    for (const s of this.states.values())
      for (const b of [s.m, s.v, s.factored?.q, s.factored?.u]) b?.destroy();
    this.states.clear();
  }

  async exportState(rt: GpuRuntime): Promise<OptimizerState> {
    const params: ParamState[] = [];
    for (const [name, s] of this.states) {
      const f = s.factored;
      const buffers = await readBuffers(rt, { m: s.m, v: s.v, q: f?.q, u: f?.u });
      // The sketch's Gaussian is drawn from (seed, parameter, t), so t is all its RNG state; the
      // rank and the factors' stride say how Q and U are laid out and where the next sketch starts.
      params.push({
        name,
        rows: s.rows,
        cols: s.cols,
        t: s.t,
        buffers,
        ...(f ? { rank: { k: f.k, stride: f.stride } } : {}),
      });
    }
    return { optimizer: this.name, params };
  }

  async importState(rt: GpuRuntime, state: OptimizerState, params: readonly ParamSlot[]): Promise<void> {
    const wanted = checkImport(this.name, state, params);
    // Plans first (the rank bounds of this optimizer's settings): a state that does not fit them is
    // refused before anything is allocated or the current state dropped.
    const plans = new Map<string, State['factored'] | null>();
    for (const [name, p] of wanted) {
      const plan = this.plan(p);
      if ((plan === null) !== (p.rank === undefined))
        throw new RangeError(
          `${this.name}: "${name}" is ${plan ? 'factored' : 'dense'} with these settings but ${p.rank ? 'factored' : 'dense'} in the state`,
        );
      if (plan && p.rank) {
        const { k, stride } = p.rank;
        const ok =
          k === 0
            ? stride === 0
            : Number.isInteger(k) && plan.kMin <= k && k <= stride && stride <= plan.kMax;
        if (!ok)
          throw new RangeError(
            `${this.name}: "${name}" has rank ${k} (stride ${stride}) in the state, outside ${plan.kMin}…${plan.kMax}`,
          );
        plan.k = k;
        plan.stride = stride;
      }
      plans.set(name, plan);
    }
    this.destroy();
    // A state that fails part-way is dropped whole: no parameter steps from a mix of states.
    try {
      for (const [name, p] of wanted) {
        const plan = plans.get(name) ?? null;
        const n = p.rows * p.cols;
        const want: Record<string, { label: string; floats: number }> = {};
        if (this.beta1 > 0) want.m = { label: `adapprox m ${name}`, floats: n };
        if (!plan) want.v = { label: `adapprox v ${name}`, floats: n };
        else if (plan.k > 0) {
          want.q = { label: `adapprox Q ${name}`, floats: plan.short * plan.stride };
          want.u = { label: `adapprox U ${name}`, floats: plan.long * plan.stride };
        }
        const { m, v, q, u } = await restoreBuffers(rt, this.name, p, want);
        const restored: State = { rows: p.rows, cols: p.cols, t: p.t, m, v };
        if (plan) restored.factored = { ...plan, q, u };
        this.states.set(name, restored);
      }
    } catch (error) {
      this.destroy();
      throw error;
    }
  }

  /**
   * Checks the rank bounds against every parameter's shape without allocating anything, so a
   * training job refuses bad ranks before its first step rather than at it.
   */
  checkShapes(params: readonly { name: string; rows: number; cols: number }[]): void {
    for (const p of params) this.plan(p);
  }

  private plan(slot: { name: string; rows: number; cols: number }): State['factored'] | null {
    const { rows, cols, name } = slot;
    const short = Math.min(rows, cols);
    if (isVector(slot) || short < this.denseBelow) return null;
    const resolve = (bound: RankBound) => (typeof bound === 'number' ? bound : bound(rows, cols));
    const kMin = resolve(this.kMin);
    const kMax = resolve(this.kMax);
    const k0 = this.k0 === undefined ? kMin : resolve(this.k0);
    const ok =
      [kMin, kMax, k0].every(Number.isInteger) && 1 <= kMin && kMin <= k0 && k0 <= kMax && kMax <= short;
    if (!ok)
      throw new RangeError(
        `${this.name}: "${name}" (${rows}×${cols}) needs integer ranks 1 ≤ k_min ≤ k0 ≤ k_max ≤ min(m, n) = ${short}, ` +
          `got k_min = ${kMin}, k0 = ${k0}, k_max = ${kMax}`,
      );
    return { k: 0, stride: 0, kMin, kMax, k0, short, long: Math.max(rows, cols), qOnRows: rows <= cols };
  }

  private async create(rt: GpuRuntime, slot: ParamSlot, plan: State['factored'] | null): Promise<State> {
    const { rows, cols, name } = slot;
    const state: State = { rows, cols, t: 0 };
    if (plan) state.factored = plan;
    else state.v = await stateBuffer(rt, `adapprox v ${name}`, rows * cols);
    if (this.beta1 > 0) state.m = await stateBuffer(rt, `adapprox m ${name}`, rows * cols);
    this.states.set(name, state);
    return state;
  }

  private async stepOne(
    rt: GpuRuntime,
    slot: ParamSlot,
    state: State,
    lr: number,
    scalars: GPUBuffer,
    at: number,
    partials: GPUBuffer,
    matrix: MatrixStep | undefined,
    steps: FusedSteps,
  ): Promise<Compressed | undefined> {
    const { rows, cols } = slot;
    const count = rows * cols;
    state.t++;
    const kernels = adapproxKernels;
    const slotOperand = { buffer: scalars, offset: at, whole: true };
    const f = state.factored;
    const group = steps.groupOf.get(slot.name);
    if (group !== undefined) {
      // Recorded with the rest of its group (planSteps): now when it is a matrix outside the batch,
      // whose S-RSI follows.
      const history = f && f.k > 0 && f.q && f.u ? { q: f.q.buffer, u: f.u.buffer } : {};
      const v =
        f && matrix
          ? { buffer: matrix.v, offset: matrix.vOffset }
          : { buffer: (state.v as TrackedBuffer).buffer, offset: 0 };
      (steps.buffers[group] as StepBuffers[]).push({
        g: slot.g,
        w: slot.p,
        m: state.m?.buffer,
        v,
        ...history,
      });
      if (group > 0) await this.runSteps(rt, steps, group, scalars, lr);
      if (f && matrix) return this.compress(rt, slot, state, v.buffer, scalars, at, partials, matrix, true);
      state.diagnostics = this.denseDiagnostics(slot);
      return undefined;
    }
    let v: GPUBuffer;
    // Where V starts in v: a batched matrix's V is a window of its batch's buffer.
    let vOffset = 0;
    let history: boolean;
    let fused = false;
    if (f && matrix) {
      v = matrix.v;
      vOffset = matrix.vOffset;
      history = f.k > 0;
      // The history is formed inside the second-moment pass when Q and U fit one binding each,
      // else by the tiled GEMM into V first (never for a batched matrix: planBatch).
      fused = history && fitsBinding(rt, f.q) && fitsBinding(rt, f.u);
      if (history && !fused) {
        if (matrix.batched)
          throw new Error(`Adapprox: "${slot.name}" was batched but its history needs the tiled GEMM`);
        await matmul(rt, this.historyProduct(state, v));
      }
    } else {
      v = (state.v as TrackedBuffer).buffer;
      history = true;
    }
    const vOperand = { buffer: v, offset: vOffset };
    const moments = {
      beta2: history ? this.beta2 : 0,
      one_minus_beta2: 1 - this.beta2,
      eps1: this.eps1,
      eps: this.eps,
    };
    const counts = { buffer: scalars, offset: at + 5, whole: true };
    if (fused && f) {
      await sumPass(
        rt,
        kernels.history_moment,
        count,
        {
          g: { buffer: slot.g },
          v: vOperand,
          counts,
          q: { buffer: (f.q as TrackedBuffer).buffer, whole: true },
          u: { buffer: (f.u as TrackedBuffer).buffer, whole: true },
        },
        { values: { ...moments, cols, k: f.k, stride: f.stride, q_rows: f.qOnRows ? 1 : 0 }, partials },
        { buffer: scalars, offset: at },
      );
    } else {
      await sumPass(
        rt,
        kernels.second_moment,
        count,
        { g: { buffer: slot.g }, v: vOperand, counts },
        { values: moments, partials },
        { buffer: scalars, offset: at },
      );
    }
    const clip = { inv_count: 1 / count, d: this.clipThreshold };
    if (state.m) {
      const m = state.m.buffer;
      await runPass(
        rt,
        kernels.moment,
        count,
        { g: { buffer: slot.g }, v: vOperand, slot: slotOperand, m: { buffer: m } },
        { values: { eps: this.eps, ...clip, beta1: this.beta1, one_minus_beta1: 1 - this.beta1 } },
      );
      if (this.guidance !== 'off') {
        await sumPass(
          rt,
          kernels.guidance_dot,
          count,
          { g: { buffer: slot.g }, v: vOperand, m: { buffer: m } },
          { values: { eps: this.eps }, partials },
          { buffer: scalars, offset: at + 1 },
        );
        await reduce(rt, 'sumsq', count, { buffer: m }, { buffer: scalars, offset: at + 2 });
      }
      const mode = { off: 0, half: 1, positive: 2 }[this.guidance];
      await runPass(
        rt,
        kernels.apply_momentum,
        count,
        { m: { buffer: m }, slot: slotOperand, w: { buffer: slot.p } },
        { values: { lr, weight_decay: this.weightDecay, guidance: mode, ...clip } },
      );
    } else {
      await runPass(
        rt,
        kernels.apply_plain,
        count,
        { g: { buffer: slot.g }, v: vOperand, slot: slotOperand, w: { buffer: slot.p } },
        { values: { lr, weight_decay: this.weightDecay, eps: this.eps, ...clip } },
      );
    }
    if (f && matrix) return this.compress(rt, slot, state, v, scalars, at, partials, matrix, false);
    state.diagnostics = this.denseDiagnostics(slot);
    return undefined;
  }

  private denseDiagnostics({ name, rows, cols }: ParamSlot): AdapproxDiagnostics {
    return {
      name,
      rows,
      cols,
      factored: false,
      rank: Math.min(rows, cols),
      sketchWidth: 0,
      relativeError: 0,
      clampedFraction: 0,
    };
  }

  /** w = min(k_cap + p, short side) with k_cap = min(k_prev + Δk, k_max). */
  private sketchSize(f: NonNullable<State['factored']>): SketchSize {
    const kPrev = f.k > 0 ? f.k : f.k0;
    const kCap = Math.min(kPrev + this.deltaK, f.kMax);
    return { w: Math.min(kCap + this.oversampling, f.short), kCap };
  }

  /** The GEMM that writes the history Q·Uᵀ (or U·Qᵀ) into v, rows × cols. */
  private historyProduct(state: State, v: GPUBuffer): MatmulArgs {
    const f = state.factored as NonNullable<State['factored']>;
    const q = (f.q as TrackedBuffer).buffer;
    const u = (f.u as TrackedBuffer).buffer;
    const [a, b] = f.qOnRows ? [q, u] : [u, q];
    return { a, b, c: v, m: state.rows, n: state.cols, k: f.k, transB: true, lda: f.stride, ldb: f.stride };
  }

  /**
   * Records the re-compression of one matrix: ‖V‖², the sketch, l power iterations with the QR on
   * the GPU, and the eigendecomposition that writes every rank's error and the chosen rank into the
   * record. Nothing is read back; `finish` writes the factors once the ranks are known.
   */
  private async compress(
    rt: GpuRuntime,
    slot: ParamSlot,
    state: State,
    v: GPUBuffer,
    scalars: GPUBuffer,
    at: number,
    partials: GPUBuffer,
    matrix: MatrixStep,
    summed: boolean,
  ): Promise<Compressed> {
    const f = state.factored as NonNullable<State['factored']>;
    const { rows, cols, name } = slot;
    const count = rows * cols;
    const { short, long, qOnRows } = f;
    const { w, kCap } = matrix.size;
    // ‖V‖² without underflow: (max V)² · Σ (V / max V)², max V from the second-moment pass (the
    // fused step has already summed it).
    if (!summed)
      await sumPass(
        rt,
        adapproxKernels.scaled_square,
        count,
        { v: { buffer: v, offset: matrix.vOffset }, slot: { buffer: scalars, offset: at, whole: true } },
        { partials },
        { buffer: scalars, offset: at + 4 },
      );

    // A batched matrix's S-RSI runs with its batch's after every parameter's step (step()), from
    // its sketch in the batch's buffer.
    if (matrix.batched) return { slot, state, w, at, record: matrix.record, ...matrix.batched, v, scalars };
    // One buffer per matrix: Ω (long × w), later U = VᵀQ / max V; Y (short × w), later Q; the
    // scratch of the QR and the eigensolver. It lives until `finish`.
    const layout = sketchLayout(short, long, w);
    const sketch = await matrix.scratch.buffer(`adapprox sketch ${name}`, layout.floats);
    const key = sketchKey(this.seed, name, state.t);
    const record = matrix.record;
    const fits = 4 * count <= rt.limits.maxStorageBufferBindingSize;
    const rank = { scalars, slot: at, record, kMin: f.kMin, kCap, threshold: this.errorThreshold };
    if (this.smallSrsi(rt, slot, w)) {
      const u = this.warmUp(f);
      const warm = u ? { u, k: f.k, stride: f.stride } : undefined;
      rt.submit([
        await srsiSmall(rt, {
          ...rank,
          v,
          rows,
          cols,
          w,
          sketch,
          key,
          iterations: this.powerIterations,
          warm,
          spare: partials,
          group: this.srsiGroup,
        }),
      ]);
      return { slot, state, w, at, record, sketch, base: 0, v, scalars };
    }
    if (this.warmStart && f.k > 0) await this.warmSketch(rt, f, sketch, w, key, scalars, at);
    else
      await runPass(
        rt,
        adapproxKernels.sketch_gaussian,
        long * w,
        { omega: { buffer: sketch } },
        { values: { key } },
      );

    // Every product is taken with V / max V (the skinny kernel reads max V from the slot): the QR's
    // Gram and the Gram of U then stay far from f32 underflow however small V is.
    const temp = fits ? undefined : await matrix.scratch.buffer(`adapprox sketch product ${name}`, long * w);
    const product = { v, rows, cols, w, sketch, scalars, at, temp };
    const { u0, y0, g0 } = layout;
    // Ω's place is free while Y is factored (the product has read Ω; U is written after).
    const basis = await choleskyQr3(rt, { sketch, rows: short, w, y0, g0, spare: u0, basisOnly: true });
    const qr = await choleskyQr3(rt, { sketch, rows: short, w, y0, g0, spare: u0 });
    for (let it = 0; it < this.powerIterations; it++) {
      // Y = V·Ω with V oriented short × long, then Y ← Q.
      await this.sketchProduct(rt, { ...product, b: u0, c: y0, out: short, inner: long, vt: !qOnRows });
      rt.submit([it < this.powerIterations - 1 ? basis : qr]);
      // U = Vᵀ·Q (long × w) into Ω's place: the next Ω, and after the last iteration U itself.
      await this.sketchProduct(rt, { ...product, b: y0, c: u0, out: long, inner: short, vt: qOnRows });
    }
    rt.submit([await eigenRank(rt, { ...rank, sketch, rows: long, w, u0, g0 })]);
    return { slot, state, w, at, record, sketch, base: 0, v, scalars };
  }

  /**
   * Reads every listed matrix's chosen rank and error (one read-back for all), then resizes each
   * one's Q and U when its rank changed and records what fills them (the rotation from the sketch,
   * or a batched matrix's copies). With `gradients`, the read covers the first `slots` floats too
   * (every parameter's scalar slots) and `check` sees them before anything is stored.
   */
  private async finish(
    rt: GpuRuntime,
    scalars: GPUBuffer,
    list: Compressed[],
    gradients?: { slots: number; check: (f32: Float32Array) => Promise<void> },
  ): Promise<AdapproxInspection[]> {
    if (list.length === 0 && !gradients) return [];
    const end = Math.max(gradients?.slots ?? 0, ...list.map((c) => c.record + recordFloats(c.w)));
    const bytes = await rt.read(scalars, 0, 4 * end);
    const f32 = new Float32Array(bytes);
    const u32 = new Uint32Array(bytes);
    await gradients?.check(f32);
    const views: AdapproxInspection[] = [];
    for (const c of list) {
      const { slot, state, w, at } = c;
      const f = state.factored as NonNullable<State['factored']>;
      const { rows, cols, name } = slot;
      const k = f32[c.record + w + 1] as number;
      const errors = Float64Array.from(f32.subarray(c.record, c.record + w + 1));
      const top = f32[at + 3] as number;
      const normSquared = top * top * (f32[at + 4] as number);
      await this.storeFactors(rt, slot, f, c, k);
      state.diagnostics = {
        name,
        rows,
        cols,
        factored: true,
        rank: k,
        sketchWidth: w,
        relativeError: errors[k] as number,
        clampedFraction: (u32[at + 5] as number) / (rows * cols),
      };
      views.push({
        ...state.diagnostics,
        v: c.v,
        q: (f.q as TrackedBuffer).buffer,
        u: (f.u as TrackedBuffer).buffer,
        stride: f.stride,
        qOnRows: f.qOnRows,
        normSquared,
        errors,
      });
    }
    return views;
  }

  /**
   * C = op(V)·B / max V for the sketch (B inner × w and C out × w, both in the sketch buffer at
   * element offsets b and c): the barrier-free skinny kernel when V fits one binding, else the tiled,
   * windowed GEMM into `temp`, scaled there and copied into place (B and C share a buffer, which
   * one dispatch may not bind as both read-only and writable).
   */
  private async sketchProduct(
    rt: GpuRuntime,
    a: {
      v: GPUBuffer;
      rows: number;
      cols: number;
      sketch: GPUBuffer;
      temp: GPUBuffer | undefined;
      b: number;
      c: number;
      out: number;
      inner: number;
      w: number;
      vt: boolean;
      scalars: GPUBuffer;
      at: number;
    },
  ): Promise<void> {
    if (a.temp) {
      await matmul(rt, {
        a: a.v,
        b: a.sketch,
        offsetB: a.b,
        c: a.temp,
        m: a.out,
        n: a.w,
        k: a.inner,
        transA: a.vt,
      });
      await runPass(rt, adapproxKernels.scale_inverse_top, a.out * a.w, {
        c: { buffer: a.temp },
        slot: { buffer: a.scalars, offset: a.at, whole: true },
      });
      rt.copy(a.temp, a.sketch, 4 * a.out * a.w, 0, 4 * a.c);
      return;
    }
    const { skinny } = adapproxKernels;
    const pipeline = await skinny.pipeline(rt);
    const invocations = Math.ceil(a.out / 4) * Math.ceil(a.w / 4);
    rt.submit([
      {
        pipeline,
        uniforms: skinny.pack({
          n: invocations,
          cols: a.cols,
          v: 0,
          b: a.b,
          c: a.c,
          inner: a.inner,
          w: a.w,
          transpose: a.vt ? 1 : 0,
          out: a.out,
          slot: a.at,
        }),
        storage: [a.v, a.sketch, a.scalars],
        workgroups: foldGrid(Math.ceil(invocations / 64), rt.limits.maxComputeWorkgroupsPerDimension),
      },
    ]);
  }

  /**
   * Q (short × k) and U (long × k) from the sketch (or, batched, copied from where the batch left
   * them), reallocated when the rank (or the first step) asks: the old factors were last read by this
   * step's history and warm start, recorded before.
   */
  private async storeFactors(
    rt: GpuRuntime,
    slot: ParamSlot,
    f: NonNullable<State['factored']>,
    c: Compressed,
    k: number,
  ): Promise<void> {
    const stride = this.preallocate ? f.kMax : k;
    if (!f.q || !f.u || f.stride !== stride) {
      f.q?.destroy();
      f.u?.destroy();
      f.q = undefined;
      f.u = undefined;
      f.q = await stateBuffer(rt, `adapprox Q ${slot.name}`, f.short * stride);
      f.u = await stateBuffer(rt, `adapprox U ${slot.name}`, f.long * stride);
      f.stride = stride;
    }
    if (c.vOffset !== undefined) {
      // The batch left them rotated in V's place, at this stride (srsi.wgsl srsi_rotate).
      const q = f.short * stride;
      rt.copy(c.v, f.q.buffer, 4 * q, 4 * c.vOffset);
      rt.copy(c.v, f.u.buffer, 4 * f.long * stride, 4 * (c.vOffset + q));
      f.k = k;
      return;
    }
    rt.submit([
      await rotateFactors(rt, {
        sketch: c.sketch,
        scalars: c.scalars,
        slot: c.at,
        short: f.short,
        long: f.long,
        w: c.w,
        k,
        stride,
        qOut: f.q.buffer,
        uOut: f.u.buffer,
        base: c.base,
      }),
    ]);
    f.k = k;
  }

  /**
   * Ω = [U_prev / max V | randn], windows of whole rows of Ω and of U. U_prev is as small as V is;
   * dividing it by this step's max V keeps V·Ω clear of f32 underflow, as between power iterations.
   */
  private async warmSketch(
    rt: GpuRuntime,
    f: NonNullable<State['factored']>,
    omega: GPUBuffer,
    w: number,
    key: number,
    scalars: GPUBuffer,
    at: number,
  ): Promise<void> {
    const u = (f.u as TrackedBuffer).buffer;
    const align = rt.limits.minStorageBufferOffsetAlignment;
    const capacity = windowCapacity(rt.limits.maxStorageBufferBindingSize, align);
    const maxGroups = rt.limits.maxComputeWorkgroupsPerDimension;
    const perWindow = Math.min(
      rowsPerWindow('adapprox warm start', 'sketch row', capacity, w, w),
      rowsPerWindow('adapprox warm start', 'factor row', capacity, f.k, f.stride),
    );
    const warm = adapproxKernels.sketch_warm;
    const pipeline = await warm.pipeline(rt);
    const dispatches: Dispatch[] = [];
    for (let r0 = 0; r0 < f.long; r0 += perWindow) {
      const n = Math.min(perWindow, f.long - r0);
      const o = bindWindow(omega, r0 * w, n * w, align);
      const uw = bindWindow(u, r0 * f.stride, span(n, f.k, f.stride), align);
      dispatches.push({
        pipeline,
        uniforms: warm.pack({
          n: n * w,
          start: r0,
          cols: w,
          omega: o.base,
          u: uw.base,
          key,
          taken: f.k,
          stride: f.stride,
          slot: at,
        }),
        storage: [o.binding, uw.binding, scalars],
        workgroups: foldGrid(Math.ceil((n * w) / PASS_BLOCK), maxGroups),
      });
    }
    rt.submit(dispatches);
  }
}
