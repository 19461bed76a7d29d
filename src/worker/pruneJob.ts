// A pruning run as the worker's job: calibration windows sampled from a text, the dense model's
// perplexity (measured once per model, text and windows, then cached), the engine's block-by-block
// run with its events streamed to the UI, and the pruned model's perplexity on the same windows.
//
// A lost device does not end the run. The engine raises PruneInterruptedError with everything up
// to the last finished block; a new runtime is acquired and the run continues from there, and the
// UI is told which block it resumed at. The perplexity passes are repeated on the new device the
// same way (the loaded model died with the old one, so the dense model is uploaded again from its
// files for the 'before' pass). Cancel lands between steps: a window, a statistics pass, a FISTA
// round, an operator.

import { GpuDeviceLostError, GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import type { ByteSource } from '../model/byteSource';
import { EVAL_TEXTS, type EvalText, evaluatePerplexity } from '../model/evaluate';
import { GpuModel, type Residency } from '../model/gpuModel';
import { CALIBRATION_TEXTS, CalibrationError, sampleCalibration } from '../prune/calibration';
import {
  checkOptionsFit,
  type PruneCheckpoint,
  PruneInterruptedError,
  prunedWeightSource,
  pruneModel,
} from '../prune/job';
import { PruneOptionsError } from '../prune/options';
import { SingularHessianError } from '../prune/sparsegpt';
import { StatisticsError } from '../prune/statistics';
import type {
  EngineFailure,
  PruneJobEvent,
  PruneJobOptions,
  PruneOutcome,
  PruneRun,
  PruneStage,
} from './api';
import { CANCEL_PASS_MS, tokensFor } from './evalJob';
import { checkFit, type LoadedModel, modelFailure } from './modelJob';
import { pruneEventBatcher } from './pruneEventBatch';
import type { PruneRunStore } from './pruneRuns';
import { throttle } from './throttle';

const MEMORY_INTERVAL_MS = 250;
/** A device lost again and again is not a transient: after this many, the run stops. */
export const MAX_RESUMES = 3;

export interface PruneJob {
  loaded: LoadedModel;
  options: PruneJobOptions;
  /** The runtime now: the one the model was loaded on, or a new one once that device is lost. */
  acquire: () => Promise<GpuRuntime>;
  /** An evaluation text's raw contents. */
  fetchText: (text: EvalText) => Promise<string>;
  /** A file under the site root (the calibration samples). */
  fetchFile: (file: string) => Promise<string>;
  store: PruneRunStore;
  /** The loaded model's tokenizer files, exported beside the pruned weights. */
  tokenizerFiles: ByteSource[];
  emit: (event: PruneJobEvent) => void;
  signal: AbortSignal;
}

/** Dense perplexity per loaded model and evaluation setting: a second run on the same model skips it. */
const denseCache = new WeakMap<LoadedModel, Map<string, { ppl: number; windows: number }>>();
/** Fetched calibration files by path (the C4 sample is 2.3 MB; fetched once per session). */
const calibrationFiles = new Map<string, string>();
let runCounter = 0;

export async function runPrune(job: PruneJob): Promise<PruneOutcome> {
  const { loaded, options, signal, store } = job;
  const { prune, evaluation } = options;
  const source = loaded.model.source;
  const config = source.config;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  // A round reports K + 1 objectives: its start and each iteration.
  const batcher = pruneEventBatcher(prune.fista.iterations + 1, (events) =>
    job.emit({ type: 'prune', events }),
  );
  // Every message goes out after the queued engine events, so the UI sees them in order.
  const emit = (event: PruneJobEvent) => {
    batcher.flush();
    job.emit(event);
  };

  let rt = await job.acquire();
  const modelRt = rt;
  let stage: PruneStage = 'calibration';
  let resumes = 0;
  let unsubscribe = () => {};
  const memory = throttle(() => sendMemory(), MEMORY_INTERVAL_MS);
  const sendMemory = () => {
    const { liveBytes, peakBytes } = rt.ledger.snapshot();
    emit({ type: 'memory', liveBytes, peakBytes });
  };
  const watch = () => {
    unsubscribe();
    unsubscribe = rt.ledger.subscribe(() => memory());
  };
  watch();

  /**
   * Runs one step on the current device. If the device is lost meanwhile, acquires a new one and
   * runs the step again (onLost first updates what the step continues from).
   */
  async function onDevice<T>(
    body: (rt: GpuRuntime, signal: AbortSignal) => Promise<T>,
    onLost: (error: unknown) => { block: number | null; blocksKept: number } = () => ({
      block: null,
      blocksKept: 0,
    }),
  ): Promise<T> {
    for (;;) {
      signal.throwIfAborted();
      // The step's own signal: the person's cancel, or this device's loss.
      const attempt = new AbortController();
      const onAbort = () => attempt.abort(signal.reason);
      signal.addEventListener('abort', onAbort);
      const stopWatching = rt.onLost((error) => attempt.abort(error));
      try {
        return await body(rt, attempt.signal);
      } catch (error) {
        const lost =
          error instanceof PruneInterruptedError || error instanceof GpuDeviceLostError || rt.isLost;
        if (!lost || signal.aborted || resumes >= MAX_RESUMES) throw error;
        resumes++;
        const where = onLost(error);
        rt = await freshRuntime(job.acquire);
        watch();
        const cause = error instanceof PruneInterruptedError ? error.cause : error;
        emit({
          type: 'resumed',
          stage,
          ...where,
          attempt: resumes,
          message: cause instanceof Error ? cause.message : String(cause),
        });
      } finally {
        signal.removeEventListener('abort', onAbort);
        stopWatching();
      }
    }
  }

  let outcome: PruneOutcome;
  try {
    // Settings first: a bad one is reported before any text is fetched or any window scored.
    checkOptionsFit(prune, config);
    if (evaluation) checkEvaluation(rt, loaded, evaluation);

    // Calibration
    const cal = prune.calibration;
    const label = cal.source.kind === 'text' ? cal.source.label : CALIBRATION_TEXTS[cal.source.kind].label;
    emit({ type: 'calibrating', label });
    const raw = cal.source.kind === 'text' ? cal.source.text : await calibrationFile(job, cal.source.kind);
    signal.throwIfAborted();
    const calibration = sampleCalibration(cal.source, raw, loaded.tokenizer, cal);
    emit({
      type: 'calibrated',
      label,
      windows: calibration.length,
      seqLen: cal.seqLen,
      tokens: calibration.length * cal.seqLen,
    });

    // Perplexity before
    stage = 'before';
    let before: { ppl: number; windows: number } | null = null;
    let evalTokens: number[] = [];
    if (evaluation) {
      evalTokens = await tokensFor(loaded, evaluation.text, job.fetchText);
      signal.throwIfAborted();
      const cache = denseCache.get(loaded) ?? new Map();
      denseCache.set(loaded, cache);
      const key = `${evaluation.text}|${evaluation.seqLen}|${evaluation.maxWindows ?? 'all'}`;
      before = cache.get(key) ?? null;
      const cached = before !== null;
      if (before) {
        emit({
          type: 'perplexity-started',
          stage: 'before',
          label: EVAL_TEXTS[evaluation.text].label,
          seqLen: evaluation.seqLen,
          total: before.windows,
          cached: true,
        });
      } else {
        before = await onDevice(async (rt, stepSignal) => {
          // The loaded model lives on the first device; after a loss it is uploaded again.
          const own = rt === modelRt && !rt.isLost;
          const model = own ? loaded.model : await GpuModel.load(rt, source, { signal: stepSignal });
          try {
            return await scorePerplexity(
              model,
              evalTokens,
              evaluation,
              'before',
              spareBytes(rt, loaded.budgetBytes),
              emit,
              stepSignal,
            );
          } finally {
            if (!own) model.destroy();
          }
        });
        cache.set(key, before);
      }
      emit({ type: 'perplexity-finished', stage: 'before', ...before, cached });
    }

    // Pruning
    stage = 'prune';
    let checkpoint: PruneCheckpoint | undefined;
    const result = await onDevice(
      (rt, stepSignal) =>
        pruneModel({
          rt,
          source,
          calibration,
          options: prune,
          emit: batcher.push,
          signal: stepSignal,
          checkpoint,
          passBytes: spareBytes(rt, loaded.budgetBytes),
        }),
      (error) => {
        if (error instanceof PruneInterruptedError) checkpoint = error.checkpoint;
        return { block: checkpoint?.layer ?? 0, blocksKept: checkpoint?.blocks.length ?? 0 };
      },
    );
    batcher.flush();

    // Perplexity after, on the same windows
    stage = 'after';
    let after: { ppl: number; windows: number } | null = null;
    if (evaluation) {
      const pruned = prunedWeightSource(source, result.tensors);
      after = await onDevice(async (rt, stepSignal) => {
        const model = await GpuModel.load(rt, pruned, {
          residency: afterResidency(loaded),
          signal: stepSignal,
        });
        try {
          return await scorePerplexity(
            model,
            evalTokens,
            evaluation,
            'after',
            spareBytes(rt, loaded.budgetBytes),
            emit,
            stepSignal,
          );
        } finally {
          model.destroy();
        }
      });
      emit({ type: 'perplexity-finished', stage: 'after', ...after, cached: false });
    }

    const run: PruneRun = {
      id: `run-${++runCounter}-${Date.now().toString(36)}`,
      createdAt: startedAt,
      modelName: loaded.summary.name,
      summary: result.summary,
      pplBefore: before?.ppl ?? null,
      pplAfter: after?.ppl ?? null,
      evalText: evaluation?.text ?? null,
      seqLen: evaluation?.seqLen ?? null,
      windows: after?.windows ?? null,
      calibrationLabel: label,
      resumes,
      totalMs: performance.now() - started,
      exportable: true,
    };
    const stored = store.add(run, result.tensors, source, job.tokenizerFiles);
    const heldRuns = store.list().flatMap((r) => (r.exportable ? [r.id] : []));
    outcome = { type: 'finished', run: stored, heldRuns };
  } catch (error) {
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (signal.aborted && !(reason instanceof GpuError)) outcome = { type: 'cancelled', stage };
    else outcome = { type: 'error', ...withoutOk(pruneFailure(reason, resumes)) };
  } finally {
    unsubscribe();
    memory.cancel();
  }
  sendMemory();
  emit(outcome);
  batcher.close();
  return outcome;
}

/** A runtime whose device is alive (the slot lets a lost one go before its listeners run, but be sure). */
async function freshRuntime(acquire: () => Promise<GpuRuntime>): Promise<GpuRuntime> {
  for (let tries = 0; tries < 20; tries++) {
    const rt = await acquire();
    if (!rt.isLost) return rt;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new GpuDeviceLostError('unknown', 'no working GPU device could be acquired after the loss');
}

async function calibrationFile(job: PruneJob, kind: keyof typeof CALIBRATION_TEXTS): Promise<string> {
  const file = CALIBRATION_TEXTS[kind].file;
  let text = calibrationFiles.get(file);
  if (text === undefined) {
    text = await job.fetchFile(file);
    calibrationFiles.set(file, text);
  }
  return text;
}

function checkEvaluation(rt: GpuRuntime, loaded: LoadedModel, e: NonNullable<PruneJobOptions['evaluation']>) {
  const { fit } = checkFit(
    rt,
    loaded.model.config,
    { budgetBytes: loaded.budgetBytes, seqLen: e.seqLen },
    loaded.model.source,
  );
  if (fit.verdict === 'does not fit')
    throw new RangeError(
      `perplexity windows of ${e.seqLen} tokens do not fit the memory budget: ${fit.reasons.join('; ')}`,
    );
  if (e.maxWindows !== undefined && !(Number.isInteger(e.maxWindows) && e.maxWindows >= 1))
    throw new RangeError(`the number of perplexity windows must be a whole number ≥ 1, got ${e.maxWindows}`);
}

/**
 * Memory a batched pass may take: half of what the budget leaves beside the buffers already live,
 * the other half kept for a block's weights and statistics. Passes shrink to one window at worst.
 */
function spareBytes(rt: GpuRuntime, budgetBytes: number): number {
  return Math.max(0, budgetBytes - rt.ledger.snapshot().liveBytes) / 2;
}

/**
 * The pruned model beside the loaded one: resident when both fit the budget the model was loaded
 * under, otherwise streamed block by block (slower, but memory stays at one block).
 */
function afterResidency(loaded: LoadedModel): Residency {
  const f32Bytes = loaded.summary.parameters * 4;
  return loaded.model.residency === 'resident' && 2 * f32Bytes <= loaded.budgetBytes
    ? 'resident'
    : 'streaming';
}

async function scorePerplexity(
  model: GpuModel,
  tokens: number[],
  e: NonNullable<PruneJobOptions['evaluation']>,
  stage: 'before' | 'after',
  passBytes: number,
  emit: (event: PruneJobEvent) => void,
  signal: AbortSignal,
): Promise<{ ppl: number; windows: number }> {
  const total = Math.min(Math.floor(tokens.length / e.seqLen), e.maxWindows ?? Number.POSITIVE_INFINITY);
  emit({
    type: 'perplexity-started',
    stage,
    label: EVAL_TEXTS[e.text].label,
    seqLen: e.seqLen,
    total,
    cached: false,
  });
  const result = await evaluatePerplexity(model, tokens, {
    seqLen: e.seqLen,
    maxWindows: e.maxWindows,
    passBytes,
    passMs: CANCEL_PASS_MS,
    signal,
    onWindow: (p) =>
      emit({ type: 'perplexity-window', stage, done: p.done, total: p.total, runningPpl: p.runningPpl }),
  });
  return { ppl: result.ppl, windows: result.windows };
}

const OPTIONS_ADVICE =
  'Change the setting the message names; the paper’s defaults are shown beside each field of the Pruning panel.';
const CALIBRATION_ADVICE =
  'Choose another calibration text, paste a longer one, or use shorter or fewer calibration windows.';
const HESSIAN_ADVICE =
  'Raise the SparseGPT damping (the reference code uses 0.01 of the mean diagonal) or use more calibration windows.';
const STATISTICS_ADVICE = 'Check the weights for NaN, or use shorter calibration windows.';

/** A failure with advice about pruning settings where the error is one; the model's failures otherwise. */
export function pruneFailure(error: unknown, resumes = 0): EngineFailure {
  if (error instanceof PruneOptionsError)
    return { ok: false, kind: 'range', message: error.message, advice: OPTIONS_ADVICE };
  if (error instanceof CalibrationError)
    return { ok: false, kind: 'range', message: error.message, advice: CALIBRATION_ADVICE };
  if (error instanceof StatisticsError)
    return { ok: false, kind: 'range', message: error.message, advice: STATISTICS_ADVICE };
  if (error instanceof SingularHessianError)
    return { ok: false, kind: 'range', message: error.message, advice: HESSIAN_ADVICE };
  if (error instanceof PruneInterruptedError) {
    const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
    return {
      ok: false,
      kind: 'device-lost',
      message: `${error.message} (${cause})${resumes > 0 ? `, after ${resumes} resumed losses` : ''}.`,
      advice:
        'The device keeps being lost: close other GPU-heavy tabs, lower the memory budget or use fewer calibration windows, then load the model and run again.',
    };
  }
  return modelFailure(error);
}

function withoutOk<T extends { ok: false }>({ ok: _, ...rest }: T): Omit<T, 'ok'> {
  return rest;
}
