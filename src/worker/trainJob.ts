// A training comparison as the worker's job: the starting model (a preset from scratch, or the
// loaded model) and the text's tokens, then the engine's TrainingJob with its events batched to the
// page, a pause gate between steps, and every arm's weights kept on the host when it ends, so the
// arms can be saved or opened in the pruning studio after the job and its GPU buffers are gone.
//
// Cancel and pause land between steps (one step of every arm). A lost device ends the run: the
// optimizer state lived on the device and cannot be rebuilt, so unlike a pruning run it is not
// continued on a new one; the weights at the last validation (the job's checkpoint, on the host)
// are kept instead, and a later failure never touches an earlier run's arms.

import { GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import type { ByteSource } from '../model/byteSource';
import { ARM_VARIANTS, type ArmChoice, optimizerOf } from '../train/armVariants';
import { splitTokens, TrainDataError } from '../train/data';
import {
  type ArmSpec,
  type ArmSummary,
  checkTrainOptions,
  type TrainEvent,
  TrainingJob,
  type TrainOptions,
  TrainOutOfMemoryError,
  type TrainSummary,
} from '../train/job';
import type { EngineFailure, TrainJobEvent, TrainJobOptions, TrainOutcome, TrainRun } from './api';
import { eventBatcher } from './eventBatch';
import { type LoadedModel, modelFailure } from './modelJob';
import type { SiteFiles } from './siteFiles';
import { throttle } from './throttle';
import type { TrainControl } from './trainControl';
import { dataLabel, NoModelError, startingModel, trainTokens } from './trainData';
import type { TrainRunStore } from './trainRuns';

const MEMORY_INTERVAL_MS = 250;
const EVENT_INTERVAL_MS = 150;
/** The text's tail held out for validation (the CLI's default). */
const VALIDATION_FRACTION = 0.1;

export interface TrainJobContext {
  options: TrainJobOptions;
  acquire: () => Promise<GpuRuntime>;
  /** The loaded model, for fine-tuning; null when none is loaded. */
  loaded: LoadedModel | null;
  loadedTokenizerFiles: ByteSource[];
  files: SiteFiles;
  store: TrainRunStore;
  control: TrainControl;
  emit: (event: TrainJobEvent) => void;
  signal: AbortSignal;
}

let runCounter = 0;

export async function runTrain(ctx: TrainJobContext): Promise<TrainOutcome> {
  const { options, signal, control, store } = ctx;
  const createdAt = new Date().toISOString();
  const record = new ArmRecord();
  let elapsed = { start: 0, paused: 0, pausedAt: null as number | null };
  const elapsedMs = () =>
    elapsed.start === 0 ? 0 : (elapsed.pausedAt ?? performance.now()) - elapsed.start - elapsed.paused;
  // None is dropped: the steps are the run's record, and the charts thin what they draw themselves.
  const batcher = eventBatcher<TrainEvent>(
    (events) => ctx.emit({ type: 'train', events, elapsedMs: elapsedMs() }),
    EVENT_INTERVAL_MS,
  );
  // Every other message goes out after the queued engine events, so the page sees them in order.
  const emit = (event: TrainJobEvent) => {
    batcher.flush();
    ctx.emit(event);
  };

  const rt = await ctx.acquire();
  const sendMemory = () => {
    const { liveBytes, peakBytes } = rt.ledger.snapshot();
    emit({ type: 'memory', liveBytes, peakBytes });
  };
  const memory = throttle(sendMemory, MEMORY_INTERVAL_MS);
  const unsubscribe = rt.ledger.subscribe(() => memory());

  let job: TrainingJob | null = null;
  let base: Omit<TrainRun, 'status' | 'summary' | 'weightsStep' | 'exportable'> | null = null;
  let tokenizerFiles: ByteSource[] = [];
  const keep = (
    status: TrainRun['status'],
    summary: TrainSummary,
    weightsStep: number,
    weights: Map<string, Map<string, Float32Array>>,
  ) => {
    if (!base || !job) return;
    const run = store.add(
      { ...base, status, summary, weightsStep, exportable: true },
      job.config,
      weights,
      tokenizerFiles,
    );
    emit({ type: 'kept', run, heldRuns: store.held() });
    return run;
  };

  let outcome: TrainOutcome;
  try {
    const label = dataLabel(options.data);
    emit({ type: 'preparing', label });
    const model = await startingModel(
      options.model,
      options.seed,
      ctx.loaded,
      ctx.loadedTokenizerFiles,
      ctx.files,
    );
    tokenizerFiles = model.tokenizerFiles;
    const trainOptions = engineOptions(options);
    // Settings first: a bad one is reported before a text is fetched or tokenized.
    checkTrainOptions(trainOptions, model.config);
    const tokens = await trainTokens(options.data, model.tokenizer, ctx.files);
    signal.throwIfAborted();
    const data = splitTokens(tokens, VALIDATION_FRACTION, options.seqLen);
    emit({
      type: 'prepared',
      label,
      modelName: model.name,
      trainTokens: data.train.length,
      validationTokens: data.validation.length,
    });
    job = await TrainingJob.create(rt, model.config, model.weights, data, trainOptions);
    control.attach(job);
    base = {
      id: `train-${++runCounter}-${Date.now().toString(36)}`,
      createdAt,
      modelName: model.name,
      dataLabel: label,
      trainTokens: data.train.length,
      validationTokens: data.validation.length,
      parameters: 0,
      options: withoutText(options),
    };
    const summary = await job.run({
      emit: (event) => {
        if (event.type === 'started') {
          elapsed = { start: performance.now(), paused: 0, pausedAt: null };
          if (base) base.parameters = event.parameters;
        }
        record.observe(event);
        control.observe(event);
        batcher.push(event);
      },
      signal,
      pause: control.gate(signal, (paused) => {
        if (paused) {
          elapsed.pausedAt = performance.now();
          emit({ type: 'paused', step: record.lastStep });
        } else {
          if (elapsed.pausedAt !== null) elapsed.paused += performance.now() - elapsed.pausedAt;
          elapsed.pausedAt = null;
          emit({ type: 'continued' });
        }
      }),
    });
    batcher.flush();
    // The slot aborts the job when the device is lost; run() then stops as if cancelled.
    if (signal.aborted && signal.reason instanceof GpuError) throw signal.reason;
    // A run cancelled before any arm stepped holds only its starting weights: nothing to keep.
    const stepped = Math.max(0, ...summary.arms.map((a) => a.steps));
    let run: TrainRun | undefined;
    if (stepped > 0 || summary.status === 'finished') {
      const weights = new Map<string, Map<string, Float32Array>>();
      for (const arm of summary.arms) weights.set(arm.id, await job.weightsOf(arm.id));
      run = keep(summary.status, summary, stepped, weights);
    }
    outcome =
      summary.status === 'finished' && run
        ? { type: 'finished', runId: run.id }
        : { type: 'cancelled', step: record.lastStep };
  } catch (error) {
    batcher.flush();
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (signal.aborted && !(reason instanceof GpuError))
      outcome = { type: 'cancelled', step: record.lastStep };
    else {
      // Whatever the failure, the weights of the last validation are on the host: keep them.
      const checkpoint = job?.checkpoint;
      if (job && checkpoint && checkpoint.step > 0)
        keep('failed', record.summaryAt(checkpoint.step, job.options), checkpoint.step, checkpoint.weights);
      outcome = { type: 'error', ...withoutOk(trainFailure(reason)) };
    }
  } finally {
    control.close('The training run has ended; the spectrum is taken during a run.');
    job?.destroy();
    unsubscribe();
    memory.cancel();
  }
  sendMemory();
  emit(outcome);
  return outcome;
}

/** The engine's options: each arm's variant becomes its optimizer (rank bounds as functions stay in the worker). */
function engineOptions(o: TrainJobOptions): TrainOptions {
  const arms: ArmSpec[] = o.arms.map((a: ArmChoice) => ({
    id: a.id,
    label: ARM_VARIANTS[a.variant]?.label ?? a.variant,
    optimizer: optimizerOf(a.variant),
    lr: a.lr,
  }));
  return {
    seqLen: o.seqLen,
    batch: o.batch,
    steps: o.steps,
    warmupSteps: o.warmupSteps,
    decay: o.decay,
    validationEvery: o.validationEvery,
    validationWindows: o.validationWindows,
    seed: o.seed,
    arms,
  };
}

/** A pasted text can be megabytes; the run record keeps its label only. */
function withoutText(o: TrainJobOptions): TrainJobOptions {
  return o.data.kind === 'user' ? { ...o, data: { ...o.data, text: '' } } : o;
}

/**
 * What each arm had reported, so a run that fails can still be summarised at the step its kept
 * weights are from (a finished or cancelled run has the engine's own summary).
 */
class ArmRecord {
  lastStep = 0;
  private readonly arms = new Map<
    string,
    {
      label: string;
      optimizer: string;
      train: Map<number, number>;
      validation: Map<number, number>;
      last: Extract<TrainEvent, { type: 'step' }> | null;
      modelMs: number;
      optimizerMs: number;
      steps: number;
      stopped?: string;
    }
  >();

  observe(e: TrainEvent): void {
    if (e.type === 'started') {
      for (const a of e.arms)
        this.arms.set(a.id, {
          label: a.label,
          optimizer: a.optimizer,
          train: new Map(),
          validation: new Map(),
          last: null,
          modelMs: 0,
          optimizerMs: 0,
          steps: 0,
        });
      return;
    }
    if (e.type === 'checkpoint') return;
    const a = this.arms.get(e.arm);
    if (!a) return;
    if (e.type === 'step') {
      this.lastStep = Math.max(this.lastStep, e.step);
      a.train.set(e.step, e.loss);
      a.last = e;
      a.modelMs += e.modelMs;
      a.optimizerMs += e.optimizerMs;
      a.steps++;
    } else if (e.type === 'validation') a.validation.set(e.step, e.loss);
    else a.stopped = e.message;
  }

  /**
   * The arms as of `step` (the kept weights' step): losses there, state and timings as last
   * reported. The engine's summary knows only 'finished' and 'cancelled'; the run says 'failed'.
   */
  summaryAt(step: number, options: TrainOptions): TrainSummary {
    const arms: ArmSummary[] = options.arms.map((spec) => {
      const a = this.arms.get(spec.id);
      const steps = Math.min(step, a?.steps ?? 0);
      return {
        id: spec.id,
        label: spec.label,
        optimizer: a?.optimizer ?? spec.optimizer.kind,
        lr: spec.lr,
        steps,
        finalTrainLoss: a?.train.get(steps) ?? null,
        finalValidationLoss: a?.validation.get(step) ?? null,
        state: a?.last?.state ?? { persistent: 0, transient: 0 },
        modelMs: a && a.steps > 0 ? a.modelMs / a.steps : 0,
        optimizerMs: a && a.steps > 0 ? a.optimizerMs / a.steps : 0,
        ...(a?.stopped ? { stopped: a.stopped } : {}),
      };
    });
    return { status: 'cancelled', arms, ms: 0 };
  }
}

const SETTINGS_ADVICE =
  'Change the setting the message names: learning rates lie in (0, 1], the window within the model’s context, ' +
  'warm-up within the steps, and the batch, steps and validation settings are whole numbers ≥ 1.';
const DATA_ADVICE = 'Use a longer text, a shorter window or a smaller batch.';
const MEMORY_ADVICE =
  'Close other GPU-heavy tabs, or train a smaller model, a shorter window or fewer arms at a time.';
const LOST_ADVICE =
  'The arms’ weights at the last validation are kept in the runs table: save them, then run again ' +
  '(a loaded model went with the device and must be loaded again).';

/** A failure with advice about training where the error is one; the model's and the GPU's otherwise. */
export function trainFailure(error: unknown): EngineFailure {
  if (error instanceof NoModelError)
    return {
      ok: false,
      kind: 'no-model',
      message: error.message,
      advice: 'Load a model in the Model section to fine-tune it, or train a preset from scratch.',
    };
  if (error instanceof TrainOutOfMemoryError)
    return { ok: false, kind: 'out-of-memory', message: error.message, advice: MEMORY_ADVICE };
  if (error instanceof TrainDataError)
    return { ok: false, kind: 'range', message: error.message, advice: DATA_ADVICE };
  if (error instanceof RangeError)
    return { ok: false, kind: 'range', message: error.message, advice: SETTINGS_ADVICE };
  if (error instanceof GpuError && error.kind === 'device-lost')
    return { ok: false, kind: 'device-lost', message: error.message, advice: LOST_ADVICE };
  return modelFailure(error);
}

function withoutOk<T extends { ok: false }>({ ok: _, ...rest }: T): Omit<T, 'ok'> {
  return rest;
}
