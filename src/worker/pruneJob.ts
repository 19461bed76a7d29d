// A pruning run as the worker's job: the host-neutral job (src/jobs/prune.ts) with the loaded
// model, its events batched for the UI, the dense model's perplexity cached per model, text and
// windows, the memory the ledger holds streamed alongside, and the pruned weights kept in the run
// store. A lost device does not end the run (the job resumes on a new runtime and says where).
// Cancel lands between steps: a window, a statistics pass, a FISTA round, an operator.

import { GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { PruneJob as HostNeutralJob, type Perplexity } from '../jobs/prune';
import type { ByteSource } from '../model/byteSource';
import type { EvalText } from '../model/evaluate';
import type { Residency } from '../model/gpuModel';
import { CALIBRATION_TEXTS, CalibrationError } from '../prune/calibration';
import { PruneInterruptedError } from '../prune/job';
import { PruneOptionsError } from '../prune/options';
import { SingularHessianError } from '../prune/sparsegpt';
import { StatisticsError } from '../prune/statistics';
import type { EngineFailure, PruneJobEvent, PruneJobOptions, PruneOutcome, PruneRun } from './api';
import { CANCEL_PASS_MS, tokensFor } from './evalJob';
import { checkFit, type LoadedModel, modelFailure } from './modelJob';
import { pruneEventBatcher } from './pruneEventBatch';
import type { PruneRunStore } from './pruneRuns';
import { throttle } from './throttle';

const MEMORY_INTERVAL_MS = 250;

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
const denseCache = new WeakMap<LoadedModel, Map<string, Perplexity>>();
/** Fetched calibration files by path (the C4 sample is 2.3 MB; fetched once per session). */
const calibrationFiles = new Map<string, string>();
let runCounter = 0;

export async function runPrune(job: PruneJob): Promise<PruneOutcome> {
  const { loaded, options, signal, store } = job;
  const { prune, evaluation } = options;
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
  // The job asks again after a lost device; the memory shown follows the runtime it gets.
  const acquire = async () => {
    const next = await job.acquire();
    if (next !== rt) {
      rt = next;
      watch();
    }
    return next;
  };

  let cache = denseCache.get(loaded);
  if (!cache) {
    cache = new Map();
    denseCache.set(loaded, cache);
  }
  const pruneJob = new HostNeutralJob(
    {
      source: loaded.model.source,
      tokenizer: loaded.tokenizer,
      acquire,
      readCalibration: (kind) => calibrationFile(job, kind),
      evalTokens: (text) => tokensFor(loaded, text, job.fetchText),
      onProgress: emit,
      onEngineEvent: batcher.push,
      signal,
      loaded: { rt: modelRt, model: loaded.model },
      denseCache: cache,
      check: (rt) => {
        if (evaluation) checkEvaluation(rt, loaded, evaluation);
      },
      passBytes: (rt) => spareBytes(rt, loaded.budgetBytes),
      passMs: CANCEL_PASS_MS,
      afterResidency: afterResidency(loaded),
    },
    prune,
    evaluation && {
      texts: [evaluation.text],
      seqLen: evaluation.seqLen,
      maxWindows: evaluation.maxWindows,
      before: true,
    },
  );

  let outcome: PruneOutcome;
  try {
    const result = await pruneJob.run();
    batcher.flush();
    const text = evaluation?.text;
    const before = text ? result.before[text] : undefined;
    const after = text ? result.after[text] : undefined;
    const run: PruneRun = {
      id: `run-${++runCounter}-${Date.now().toString(36)}`,
      createdAt: startedAt,
      modelName: loaded.summary.name,
      summary: result.summary,
      pplBefore: before?.ppl ?? null,
      pplAfter: after?.ppl ?? null,
      evalText: text ?? null,
      seqLen: evaluation?.seqLen ?? null,
      windows: after?.windows ?? null,
      calibrationLabel: result.calibration.label,
      resumes: pruneJob.resumes,
      totalMs: performance.now() - started,
      exportable: true,
    };
    const stored = store.add(run, result.tensors, loaded.model.source, job.tokenizerFiles);
    const heldRuns = store.list().flatMap((r) => (r.exportable ? [r.id] : []));
    outcome = { type: 'finished', run: stored, heldRuns };
  } catch (error) {
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (signal.aborted && !(reason instanceof GpuError))
      outcome = { type: 'cancelled', stage: pruneJob.stage };
    else outcome = { type: 'error', ...withoutOk(pruneFailure(reason, pruneJob.resumes)) };
  } finally {
    unsubscribe();
    memory.cancel();
  }
  sendMemory();
  emit(outcome);
  batcher.close();
  return outcome;
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
