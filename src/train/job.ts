// A training comparison: several arms (an optimizer each, with its own learning rate) train the
// same starting model on the same batches in the same order, one step of each arm in turn, so the
// studio's loss curves grow side by side. The job streams every step's loss, learning rate, speed
// and optimizer-state bytes, validation losses, and Adapprox's rank and error per matrix; it can be
// paused and cancelled between steps, and keeps a checkpoint on the host at every validation (each
// arm's weights, optimizer state and record) that survives a lost device: create() continues a run
// from one on a new device (src/jobs/train.ts does so).
//
// A NaN or ±∞ gradient stops only that arm: the optimizer refuses the step before writing, so the
// arm's weights are still its last good step's, and those are what it keeps and can save.
//
// Residency 'one arm at a time' is what a run falls back to when the GPU's memory runs out
// (src/jobs/train.ts): every arm's weights and optimizer state wait on the host, and an arm is put
// on the GPU (weights, gradients, optimizer state) only for its own step or validation, then read
// back and freed. The GPU then holds one arm instead of all of them, at the cost of an upload and
// a read-back of each arm per step. The copies are exact (optim/state.ts), so the steps are the
// resident run's bit for bit. Splitting the batch would not help: a step already runs its batch
// window by window, accumulating the gradient, so its activations are one window's whatever the
// batch.

import { describeBound, inBound } from '../bounds/bound';
import { GpuDeviceLostError, GpuOutOfMemoryError } from '../gpu/errors';
import { addWork, perUnit, type WorkCounters, withGpuClock, zeroWork } from '../gpu/meter';
import type { GpuRuntime } from '../gpu/runtime';
import type { ModelConfig } from '../model/config';
import { canonicalTensors } from '../model/weights';
import { TrainArm } from './arm';
import { BatchSampler, type DataSplit, validationWindows } from './data';
import {
  type AdapproxDiagnostics,
  type AdapproxInspection,
  NonFiniteGradientError,
  type OptimizerChoice,
  type StateBytes,
} from './optim';
import { gram, symmetricEigen } from './optim/srsi';
import type { OptimizerState } from './optim/state';
import { type ArmSpec, TRAIN_BOUNDS, type TrainOptions } from './options';
import { checkSchedule, learningRate } from './schedule';

// What a run is asked to do lives in options.ts, which the studio's page can import alone.
export type { ArmSpec, TrainOptions } from './options';

/** Adapprox's per-matrix diagnostics, as plain numbers for the rank heatmap. */
export interface RankSample {
  name: string;
  rank: number;
  relativeError: number;
  clampedFraction: number;
}

export type TrainEvent =
  | {
      type: 'started';
      arms: { id: string; label: string; optimizer: string }[];
      steps: number;
      tokensPerStep: number;
      parameters: number;
    }
  | {
      type: 'step';
      arm: string;
      step: number;
      loss: number;
      lr: number;
      tokensPerSecond: number;
      modelMs: number;
      optimizerMs: number;
      /** By the formulas of docs/algorithms/adapprox.md §2 (persistent: what the ledger holds for this arm). */
      state: StateBytes;
      /** The optimizer step's scratch peak as the ledger measured it. */
      measuredTransient: number;
      /** What the step asked of the GPU (forward, backward and optimizer), and the optimizer alone. */
      counters: WorkCounters;
      optimizerCounters: WorkCounters;
      ranks?: RankSample[];
    }
  | { type: 'validation'; arm: string; step: number; loss: number }
  | { type: 'arm-stopped'; arm: string; step: number; message: string }
  | { type: 'checkpoint'; step: number };

export interface ArmSummary {
  id: string;
  label: string;
  optimizer: string;
  lr: number;
  /** Steps applied (fewer than asked when the arm stopped or the job was cancelled). */
  steps: number;
  finalTrainLoss: number | null;
  finalValidationLoss: number | null;
  state: StateBytes;
  /** Mean over steps, milliseconds. */
  modelMs: number;
  optimizerMs: number;
  /** Mean over steps of the step's counters and of the optimizer's (absent in older records). */
  countersPerStep?: WorkCounters;
  optimizerCountersPerStep?: WorkCounters;
  stopped?: string;
}

export interface TrainSummary {
  status: 'finished' | 'cancelled';
  arms: ArmSummary[];
  ms: number;
}

/** The singular spectrum of one matrix's dense second moment V at one step, for the inspect view. */
export interface SecondMomentSpectrum {
  arm: string;
  matrix: string;
  step: number;
  rows: number;
  cols: number;
  /** Descending singular values of V (float64, from the eigenvalues of the short side's Gram). */
  singularValues: number[];
  /** ‖V − V_k‖_F / ‖V‖_F of the best rank-k approximation, k = 0…min(m, n). */
  exactErrors: number[];
  /** ξ_j Adapprox estimated from its sketch, j = 0…w, and the rank it chose against errorTarget. */
  sketchErrors: number[];
  rank: number;
  errorTarget: number;
}

export interface TrainHooks {
  emit?: (e: TrainEvent) => void;
  signal?: AbortSignal;
  pause?: () => Promise<void>;
  gpuTime?: boolean;
}

/**
 * Everything a run needs to continue from a validation on a new device: per arm its weights, its
 * optimizer's state (exact copies, optim/state.ts) and its record so far. The batches need nothing:
 * BatchSampler draws step s's batch from (seed, s) alone, and the learning rate is the schedule's
 * at s.
 */
export interface TrainCheckpoint {
  /** Steps completed when it was taken. */
  step: number;
  weights: Map<string, Map<string, Float32Array>>;
  optimizers: Map<string, OptimizerState>;
  arms: Map<string, ArmProgress>;
}

/** An arm's record up to a checkpoint: what its summary is built from. */
export interface ArmProgress {
  steps: number;
  lastLoss: number | null;
  lastValidation: number | null;
  modelMs: number;
  optimizerMs: number;
  counters: WorkCounters;
  optimizerCounters: WorkCounters;
  stopped?: string;
}

export class TrainOutOfMemoryError extends Error {
  override name = 'TrainOutOfMemoryError';
  constructor(
    override readonly cause: GpuOutOfMemoryError,
    readonly suggestion: { seqLen: number; arms: number },
    /** Whether the run already had one arm at a time on the GPU (then fewer arms do not help). */
    readonly oneArmAtATime = false,
  ) {
    super(
      `${cause.message}. A step holds one window's activations whatever the batch (the batch is accumulated window ` +
        `by window), so a smaller batch does not help; ` +
        (oneArmAtATime
          ? `this happened with one arm at a time on the GPU, so try a window of ${suggestion.seqLen} tokens ` +
            'or a smaller model.'
          : `try a window of ${suggestion.seqLen} tokens or ` +
            `${suggestion.arms} arm${suggestion.arms === 1 ? '' : 's'} at a time.`),
    );
  }
}

/** Where the arms live between their steps: all on the GPU, or on the host but the one stepping. */
export type ArmResidency = 'resident' | 'one-at-a-time';

/** An arm waiting on the host (residency 'one-at-a-time'): exact copies of its weights and optimizer state. */
interface ParkedArm {
  weights: Map<string, Float32Array>;
  /** null before the arm's first placement when it starts afresh (the optimizer has no state yet). */
  optimizer: OptimizerState | null;
}

interface ArmState extends ArmProgress {
  spec: ArmSpec;
  /** The optimizer as the job builds it (with the inspection hook), to rebuild a parked arm. */
  choice: OptimizerChoice;
  optimizerName: string;
  /** The optimizer state's bytes after the arm's last step (what the ledger holds while it is placed). */
  stateBytes: StateBytes;
  /** On the GPU (residency 'resident'), or null while parked. */
  arm: TrainArm | null;
  /** The host copy of a parked arm (residency 'one-at-a-time'). */
  parked: ParkedArm | null;
}

interface Inspection {
  arm: string;
  matrix: string;
  resolve: (spectrum: SecondMomentSpectrum) => void;
}

export class TrainingJob {
  private readonly arms: ArmState[] = [];
  private checkpointValue: TrainCheckpoint | null = null;
  private pendingInspection: Inspection | null = null;
  private currentStep = 0;

  private constructor(
    private readonly rt: GpuRuntime,
    readonly config: ModelConfig,
    private readonly data: DataSplit,
    readonly options: TrainOptions,
    /** The checkpoint this job continues from (a lost device's run), or null for a new run. */
    private readonly resumed: TrainCheckpoint | null,
    readonly residency: ArmResidency,
  ) {
    this.checkpointValue = resumed;
  }

  /**
   * Checks the options and allocates every arm (weights, gradients, optimizer). start is the
   * starting model of every arm, or per arm (to continue arms from a checkpoint's weights).
   * With `resume`, every arm starts from the checkpoint instead (weights, optimizer state and
   * record), and run() continues at the checkpoint's step as the interrupted run would have.
   * With residency 'one-at-a-time', the arms are checked and kept on the host; each is put on the
   * GPU only for its own work (see the top of this file).
   */
  static async create(
    rt: GpuRuntime,
    config: ModelConfig,
    start: Map<string, Float32Array> | ((arm: ArmSpec) => Map<string, Float32Array>),
    data: DataSplit,
    options: TrainOptions,
    resume: TrainCheckpoint | null = null,
    residency: ArmResidency = 'resident',
  ): Promise<TrainingJob> {
    checkTrainOptions(options, config);
    // Constructing the sampler checks that a batch fits the training tokens.
    new BatchSampler(data.train, options.seqLen, options.batch, options.seed);
    if (resume) checkResume(resume, options);
    const job = new TrainingJob(rt, config, data, options, resume, residency);
    try {
      for (const spec of options.arms) {
        const choice = job.withInspection(spec);
        const weights = resume
          ? (resume.weights.get(spec.id) as Map<string, Float32Array>)
          : typeof start === 'function'
            ? start(spec)
            : start;
        // A parked arm is still built once, so that a bad starting model or optimizer is refused here.
        const arm = await TrainArm.create(rt, config, weights, choice, spec.id);
        const progress = resume?.arms.get(spec.id);
        const parked = residency === 'one-at-a-time';
        if (parked) arm.destroy();
        job.arms.push({
          spec,
          choice,
          optimizerName: arm.optimizer.name,
          stateBytes: arm.optimizer.stateBytes(),
          arm: parked ? null : arm,
          parked: parked ? { weights, optimizer: resume?.optimizers.get(spec.id) ?? null } : null,
          steps: 0,
          lastLoss: null,
          lastValidation: null,
          modelMs: 0,
          optimizerMs: 0,
          counters: zeroWork(),
          optimizerCounters: zeroWork(),
          ...progress,
        });
        if (resume && !parked)
          await arm.importOptimizer(rt, resume.optimizers.get(spec.id) as OptimizerState);
      }
    } catch (error) {
      job.destroy();
      throw job.explain(error);
    }
    return job;
  }

  /** The weights at the last validation (or null before the first). */
  get checkpoint(): TrainCheckpoint | null {
    return this.checkpointValue;
  }

  /**
   * Trains until options.steps, cancellation or every arm stopping. pause is awaited between
   * steps (resolve it to go on). Throws on a GPU failure; this.checkpoint is still readable then.
   * gpuTime times the steps on the GPU's clock for their counters (default: on a real GPU; see
   * withGpuClock).
   */
  async run(hooks: TrainHooks = {}): Promise<TrainSummary> {
    return withGpuClock(this.rt, hooks.gpuTime, () => this.train(hooks));
  }

  private async train(hooks: TrainHooks): Promise<TrainSummary> {
    const { options, rt } = this;
    const emit = hooks.emit ?? (() => {});
    const t0 = performance.now();
    const sampler = new BatchSampler(this.data.train, options.seqLen, options.batch, options.seed);
    const validation = validationWindows(this.data.validation, options.seqLen, options.validationWindows);
    const tokensPerStep = options.seqLen * options.batch;
    // The listeners met the arms when the interrupted run started.
    if (!this.resumed)
      emit({
        type: 'started',
        arms: this.arms.map((a) => ({ id: a.spec.id, label: a.spec.label, optimizer: a.optimizerName })),
        steps: options.steps,
        tokensPerStep,
        parameters: parameterCount(this.config),
      });
    const validate = async (step: number) => {
      for (const a of this.arms) {
        if (a.stopped) continue;
        a.lastValidation = await this.onGpu(a, (arm) => arm.evaluate(rt, validation));
        emit({ type: 'validation', arm: a.spec.id, step, loss: a.lastValidation });
      }
      const weights = new Map<string, Map<string, Float32Array>>();
      const optimizers = new Map<string, OptimizerState>();
      const arms = new Map<string, ArmProgress>();
      for (const a of this.arms) {
        const { spec, arm, parked, choice: _c, optimizerName: _n, stateBytes: _b, ...progress } = a;
        // A parked arm's host copy is its state now (placements replace it, never write into it).
        weights.set(spec.id, arm ? await arm.snapshot(rt) : (parked as ParkedArm).weights);
        optimizers.set(spec.id, arm ? await arm.exportOptimizer(rt) : await this.parkedOptimizer(a));
        arms.set(spec.id, progress);
      }
      this.checkpointValue = { step, weights, optimizers, arms };
      emit({ type: 'checkpoint', step });
    };
    let cancelled = false;
    try {
      // A continued run was validated at its checkpoint already; its steps go on from there.
      const from = this.resumed?.step ?? 0;
      if (!this.resumed) await validate(0);
      for (let step = from; step < options.steps; step++) {
        if (hooks.signal?.aborted) {
          cancelled = true;
          break;
        }
        await hooks.pause?.();
        if (hooks.signal?.aborted) {
          cancelled = true;
          break;
        }
        this.currentStep = step;
        const batch = sampler.batchAt(step);
        for (const a of this.arms) {
          if (a.stopped) continue;
          const lr = learningRate(scheduleOf(options, a.spec.lr), step);
          try {
            let ranks: RankSample[] | undefined;
            const r = await this.onGpu(a, async (arm) => {
              const result = await arm.step(rt, batch, lr);
              a.stateBytes = arm.optimizer.stateBytes();
              ranks = rankSamples(arm);
              return result;
            });
            a.steps = step + 1;
            a.lastLoss = r.loss;
            a.modelMs += r.modelMs;
            a.optimizerMs += r.optimizerMs;
            a.counters = addWork(a.counters, r.counters);
            a.optimizerCounters = addWork(a.optimizerCounters, r.optimizerCounters);
            emit({
              type: 'step',
              arm: a.spec.id,
              step: step + 1,
              loss: r.loss,
              lr,
              tokensPerSecond: tokensPerStep / ((r.modelMs + r.optimizerMs) / 1000),
              modelMs: r.modelMs,
              optimizerMs: r.optimizerMs,
              state: a.stateBytes,
              measuredTransient: r.optimizerTransientBytes,
              counters: r.counters,
              optimizerCounters: r.optimizerCounters,
              ranks,
            });
          } catch (error) {
            if (!(error instanceof NonFiniteGradientError)) throw error;
            a.stopped =
              `stopped at step ${step + 1}: ${error.message} The weights of step ${step} are kept ` +
              "(the refused step changed nothing); lower this arm's learning rate and run again.";
            emit({ type: 'arm-stopped', arm: a.spec.id, step: step + 1, message: a.stopped });
          }
        }
        if (this.arms.every((a) => a.stopped)) break;
        const done = step + 1;
        if (done % options.validationEvery === 0 || done === options.steps) await validate(done);
      }
    } catch (error) {
      throw this.explain(error);
    }
    return {
      status: cancelled ? 'cancelled' : 'finished',
      ms: performance.now() - t0,
      arms: this.arms.map((a) => ({
        id: a.spec.id,
        label: a.spec.label,
        optimizer: a.optimizerName,
        lr: a.spec.lr,
        steps: a.steps,
        finalTrainLoss: a.lastLoss,
        finalValidationLoss: a.lastValidation,
        state: a.stateBytes,
        modelMs: a.steps > 0 ? a.modelMs / a.steps : 0,
        optimizerMs: a.steps > 0 ? a.optimizerMs / a.steps : 0,
        ...(a.steps > 0
          ? {
              countersPerStep: perUnit(a.counters, a.steps),
              optimizerCountersPerStep: perUnit(a.optimizerCounters, a.steps),
            }
          : {}),
        ...(a.stopped ? { stopped: a.stopped } : {}),
      })),
    };
  }

  /**
   * The spectrum of one Adapprox matrix's dense V at the arm's next step (resolves during that
   * step, so call it while the job runs or before run()).
   */
  inspectSecondMoment(arm: string, matrix: string): Promise<SecondMomentSpectrum> {
    const a = this.arms.find((x) => x.spec.id === arm);
    if (a?.spec.optimizer.kind !== 'adapprox') {
      return Promise.reject(new RangeError(`arm ${arm} is not an Adapprox arm of this job`));
    }
    return new Promise((resolve) => {
      this.pendingInspection = { arm, matrix, resolve };
    });
  }

  /** The current weights of an arm (after the run: its final or last good weights). */
  async weightsOf(arm: string): Promise<Map<string, Float32Array>> {
    const a = this.arms.find((x) => x.spec.id === arm);
    if (!a) throw new RangeError(`no arm ${arm} in this job`);
    return a.arm ? a.arm.snapshot(this.rt) : (a.parked as ParkedArm).weights;
  }

  destroy(): void {
    for (const a of this.arms) a.arm?.destroy();
    this.arms.length = 0;
  }

  /**
   * Runs work on an arm on the GPU. A resident arm is there already; a parked one is put there for
   * the work and parked again after it (read back, then freed). Should the work fail, the placed arm
   * is freed and its host copy stays that of before the work, so nothing of a half-done step is kept.
   */
  private async onGpu<T>(a: ArmState, work: (arm: TrainArm) => Promise<T>): Promise<T> {
    if (a.arm) return work(a.arm);
    const parked = a.parked as ParkedArm;
    const arm = await TrainArm.create(this.rt, this.config, parked.weights, a.choice, a.spec.id);
    try {
      if (parked.optimizer) await arm.importOptimizer(this.rt, parked.optimizer);
      const result = await work(arm);
      a.parked = { weights: await arm.snapshot(this.rt), optimizer: await arm.exportOptimizer(this.rt) };
      return result;
    } finally {
      arm.destroy();
    }
  }

  /** A parked arm's optimizer state; an arm that never stepped is placed once to export its empty one. */
  private async parkedOptimizer(a: ArmState): Promise<OptimizerState> {
    const parked = a.parked as ParkedArm;
    if (!parked.optimizer) await this.onGpu(a, async () => {});
    return (a.parked as ParkedArm).optimizer as OptimizerState;
  }

  private withInspection(spec: ArmSpec): OptimizerChoice {
    if (spec.optimizer.kind !== 'adapprox') return spec.optimizer;
    const options = spec.optimizer.options ?? {};
    return {
      kind: 'adapprox',
      options: {
        ...options,
        inspect: async (view) => {
          const want = this.pendingInspection;
          if (!want || want.arm !== spec.id || want.matrix !== view.name) return;
          this.pendingInspection = null;
          want.resolve(
            await spectrumOf(this.rt, spec.id, this.currentStep + 1, view, options.errorThreshold ?? 0.03),
          );
        },
      },
    };
  }

  private explain(error: unknown): unknown {
    if (error instanceof GpuOutOfMemoryError) {
      return new TrainOutOfMemoryError(
        error,
        {
          seqLen: Math.max(2, Math.floor(this.options.seqLen / 2)),
          arms: Math.max(1, Math.ceil(this.options.arms.length / 2)),
        },
        this.residency === 'one-at-a-time',
      );
    }
    if (error instanceof GpuDeviceLostError && this.checkpointValue) {
      error.message += ` The weights at step ${this.checkpointValue.step} are kept and can be saved.`;
    }
    return error;
  }
}

/** A checkpoint continues only the run it was taken of: every arm of these options, within the steps. */
function checkResume(c: TrainCheckpoint, o: TrainOptions): void {
  if (!Number.isInteger(c.step) || c.step < 0 || c.step > o.steps)
    throw new RangeError(`the checkpoint's step ${c.step} is not within the run's ${o.steps} steps`);
  for (const a of o.arms)
    if (!c.weights.has(a.id) || !c.optimizers.has(a.id) || !c.arms.has(a.id))
      throw new RangeError(`the checkpoint holds no state for arm ${a.id}`);
}

function scheduleOf(o: TrainOptions, peak: number) {
  return { peak, warmupSteps: o.warmupSteps, totalSteps: o.steps, decay: o.decay, minRatio: o.minLrRatio };
}

export function checkTrainOptions(o: TrainOptions, c: ModelConfig): void {
  const B = TRAIN_BOUNDS;
  for (const [what, b, value] of [
    ['the window', B.seqLen, o.seqLen],
    ['the batch', B.batch, o.batch],
    ['validation every', B.validationEvery, o.validationEvery],
    ['validation windows', B.validationWindows, o.validationWindows],
  ] as const) {
    if (!inBound(b, value)) throw new RangeError(`${what} must be ${describeBound(b)}, got ${value}`);
  }
  if (o.seqLen > c.maxPositions) {
    throw new RangeError(
      `a window of ${o.seqLen} tokens is longer than the model's context of ${c.maxPositions}`,
    );
  }
  if (o.arms.length === 0) throw new RangeError('choose at least one optimizer arm');
  const ids = new Set(o.arms.map((a) => a.id));
  if (ids.size !== o.arms.length) throw new RangeError('two arms share an id');
  // The steps, warm-up, learning rates and floor: the schedule's own checks, against the same bounds.
  for (const a of o.arms) checkSchedule(scheduleOf(o, a.lr));
}

export function parameterCount(c: ModelConfig): number {
  return canonicalTensors(c).reduce((n, t) => n + t.shape.reduce((x, y) => x * y, 1), 0);
}

function rankSamples(arm: TrainArm): RankSample[] | undefined {
  const opt = arm.optimizer as { diagnostics?: () => AdapproxDiagnostics[] };
  if (typeof opt.diagnostics !== 'function') return undefined;
  return opt
    .diagnostics()
    .filter((d) => d.factored)
    .map((d) => ({
      name: d.name,
      rank: d.rank,
      relativeError: d.relativeError,
      clampedFraction: d.clampedFraction,
    }));
}

async function spectrumOf(
  rt: GpuRuntime,
  arm: string,
  step: number,
  view: AdapproxInspection,
  errorTarget: number,
): Promise<SecondMomentSpectrum> {
  const { rows, cols } = view;
  const v = await rt.readF32(view.v, 0, rows * cols * 4);
  // Singular values from the Gram of the short side: VᵀV (cols ≤ rows) or VVᵀ via Vᵀ.
  let g: Float64Array;
  let n: number;
  if (cols <= rows) {
    g = gram(v, rows, cols);
    n = cols;
  } else {
    const t = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = v[i * cols + j] as number;
    g = gram(t, cols, rows);
    n = rows;
  }
  const eig = symmetricEigen(g, n).values;
  const singularValues = Array.from(eig, (e) => Math.sqrt(Math.max(e, 0)));
  const total = singularValues.reduce((s, x) => s + x * x, 0);
  const exactErrors: number[] = [];
  let tail = total;
  for (let k = 0; k <= n; k++) {
    exactErrors.push(total > 0 ? Math.sqrt(Math.max(tail, 0) / total) : 0);
    tail -= (singularValues[k] ?? 0) ** 2;
  }
  return {
    arm,
    matrix: view.name,
    step,
    rows,
    cols,
    singularValues,
    exactErrors,
    sketchErrors: Array.from(view.errors),
    rank: view.rank,
    errorTarget,
  };
}
