// A training comparison as the worker's job: the starting model (a preset from scratch, or the
// loaded model) and the text's tokens, then the host-neutral TrainJob (src/jobs/train.ts) with its
// events batched to the page, a pause gate between steps, and every arm's weights kept on the host
// when it ends, so the arms can be saved or opened in the pruning studio after the job and its GPU
// buffers are gone.
//
// Cancel and pause land between steps (one step of every arm). A lost device does not end the run:
// the job continues on a new device from the checkpoint of the last validation (weights and
// optimizer state) and the page is told so ('resumed'). Should it fail after all, the weights at the
// last validation (on the host) are kept, and a later failure never touches an earlier run's arms.

import { GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { failureEvent } from '../jobs/failure';
import type { LoadedModel } from '../jobs/load';
import type { SiteFiles } from '../jobs/siteFiles';
import { throttle } from '../jobs/throttle';
import { TrainJob } from '../jobs/train';
import { dataLabel, startingModel, trainTokens } from '../jobs/trainData';
import { trainFailure } from '../jobs/trainFailure';
import type { TrainRunStore } from '../jobs/trainRuns';
import type { ByteSource } from '../model/byteSource';
import { ARM_VARIANTS, type ArmChoice, optimizerOf } from '../train/armVariants';
import type { ArmSpec, TrainEvent, TrainOptions, TrainSummary } from '../train/job';
import type { TrainJobEvent, TrainJobOptions, TrainOutcome, TrainRun } from './api';
import { eventBatcher } from './eventBatch';
import type { TrainControl } from './trainControl';
import { watchRuntime } from './watchedRuntime';

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

  const sendMemory = () => {
    const { liveBytes, peakBytes } = runtime.rt.ledger.snapshot();
    emit({ type: 'memory', liveBytes, peakBytes });
  };
  const memory = throttle(sendMemory, MEMORY_INTERVAL_MS);
  // The job asks again after a lost device; the memory shown follows the runtime it gets.
  const runtime = watchRuntime(
    await ctx.acquire(),
    () => ctx.acquire(),
    () => memory(),
  );

  let job: TrainJob | null = null;
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
      { ...base, status, summary, weightsStep, exportable: true, resumes: job.resumes },
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
    job = new TrainJob(
      {
        acquire: () => runtime.acquire(),
        tokens: () => trainTokens(options.data, model.tokenizer, ctx.files),
        onProgress: (event) => {
          if (event.type === 'prepared') {
            base = {
              id: `train-${++runCounter}-${Date.now().toString(36)}`,
              createdAt,
              modelName: model.name,
              dataLabel: label,
              trainTokens: event.trainTokens,
              validationTokens: event.validationTokens,
              parameters: 0,
              options: withoutText(options),
            };
            emit({ ...event, label, modelName: model.name });
          } else emit(event);
        },
        onEngineEvent: (event) => {
          if (event.type === 'started') {
            elapsed = { start: performance.now(), paused: 0, pausedAt: null };
            if (base) base.parameters = event.parameters;
          }
          control.observe(event);
          batcher.push(event);
        },
        onEngine: (engine) => control.attach(engine),
        signal,
        pause: control.gate(signal, (paused) => {
          if (paused) {
            elapsed.pausedAt = performance.now();
            emit({ type: 'paused', step: job?.record.lastStep ?? 0 });
          } else {
            if (elapsed.pausedAt !== null) elapsed.paused += performance.now() - elapsed.pausedAt;
            elapsed.pausedAt = null;
            emit({ type: 'continued' });
          }
        }),
      },
      {
        config: model.config,
        start: model.weights,
        options: engineOptions(options),
        validationFraction: VALIDATION_FRACTION,
      },
    );
    const { summary, weights } = await job.run();
    batcher.flush();
    // A job aborted with the device's error (the slot's way to end it) stops as if cancelled.
    if (signal.aborted && signal.reason instanceof GpuError) throw signal.reason;
    // A run cancelled before any arm stepped holds only its starting weights: nothing to keep.
    const stepped = Math.max(0, ...summary.arms.map((a) => a.steps));
    const run = weights.size > 0 ? keep(summary.status, summary, stepped, weights) : undefined;
    outcome =
      summary.status === 'finished' && run
        ? { type: 'finished', runId: run.id }
        : { type: 'cancelled', step: job.record.lastStep };
  } catch (error) {
    batcher.flush();
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (signal.aborted && !(reason instanceof GpuError))
      outcome = { type: 'cancelled', step: job?.record.lastStep ?? 0 };
    else {
      // Whatever the failure, the weights of the last validation are on the host: keep them.
      const checkpoint = job?.checkpoint;
      if (job && checkpoint && checkpoint.step > 0)
        keep(
          'failed',
          job.record.summaryAt(checkpoint.step, job.options),
          checkpoint.step,
          checkpoint.weights,
        );
      outcome = failureEvent(trainFailure(reason, job?.resumes));
    }
  } finally {
    control.close('The training run has ended; the spectrum is taken during a run.');
    runtime.stop();
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
