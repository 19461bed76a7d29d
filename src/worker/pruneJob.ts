// A pruning run as the worker's job: the host-neutral job (src/jobs/prune.ts) with the loaded
// model, its events batched for the UI, the dense model's perplexity cached per model, text and
// windows, the memory the ledger holds streamed alongside, and the pruned weights kept in the run
// store (or, when the run keeps them on disk, in a folder of the private file system that goes
// with the run: cache/prunedOnOpfs.ts). A lost device does not end the run (the job resumes on a new
// runtime and says where). Cancel lands between steps: a window, a statistics pass, a FISTA round, an operator.

import { describeBound, inBound } from '../bounds/bound';
import { keepPrunedOnDisk, type PrunedRunFolder, type PrunedStorageSlot } from '../cache/prunedOnOpfs';
import { GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { EVAL_BOUNDS } from '../jobs/evalOptions';
import { failureEvent } from '../jobs/failure';
import { checkFit, type LoadedModel } from '../jobs/load';
import { PruneJob as HostNeutralJob, type Perplexity } from '../jobs/prune';
import { pruneFailure } from '../jobs/pruneFailure';
import type { PruneRunStore } from '../jobs/pruneRuns';
import { throttle } from '../jobs/throttle';
import type { ByteSource } from '../model/byteSource';
import type { EvalText } from '../model/evaluate';
import type { Residency } from '../model/gpuModel';
import { CALIBRATION_TEXTS } from '../prune/calibration';
import type { PruneEvent } from '../prune/events';
import { PruneOptionsError } from '../prune/options';
import { canSplitBlocks, devicesProblem, maxPruneDevices } from '../prune/parallel';
import type { PruneJobEvent, PruneJobOptions, PruneOutcome, PruneRun } from './api';
import { CANCEL_PASS_MS, tokensFor } from './evalJob';
import { eventBatcher } from './eventBatch';
import { watchRuntime } from './watchedRuntime';

const MEMORY_INTERVAL_MS = 250;
/** At most one message of engine events per this many milliseconds. */
const ENGINE_EVENT_MS = 100;

export interface PruneJob {
  loaded: LoadedModel;
  options: PruneJobOptions;
  /** The runtime now: the one the model was loaded on, or a new one once that device is lost. */
  acquire: () => Promise<GpuRuntime>;
  /**
   * A new runtime on a device of its own (requestAdapter and requestDevice again), for the extra
   * devices of a run on several; the job destroys each at its end.
   */
  createRuntime: () => Promise<GpuRuntime>;
  /** Logical cores (navigator.hardwareConcurrency): with the budget, how many devices a run may take. */
  cores: number;
  /** An evaluation text's raw contents. */
  fetchText: (text: EvalText) => Promise<string>;
  /** A file under the site root (the calibration samples). */
  fetchFile: (file: string) => Promise<string>;
  store: PruneRunStore;
  /** The loaded model's tokenizer files, exported beside the pruned weights. */
  tokenizerFiles: ByteSource[];
  emit: (event: PruneJobEvent) => void;
  signal: AbortSignal;
  /**
   * Where pruned matrices can be kept on disk, or why they cannot (engine.worker.ts opens it at
   * start); without it every run keeps them in memory.
   */
  prunedStorage?: Promise<PrunedStorageSlot>;
  /** Host bytes above which a run keeps its pruned matrices on disk unasked (cache/prunedOnOpfs.ts onDiskThresholdBytes). */
  onDiskThresholdBytes?: number;
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
  // The engine reports per statistics pass, operator and λ round (each round's objective one
  // finished series): batched so a fast small model does not re-render the page per event.
  const batcher = eventBatcher<PruneEvent>((events) => job.emit({ type: 'prune', events }), ENGINE_EVENT_MS);
  // Every message goes out after the queued engine events, so the UI sees them in order.
  const emit = (event: PruneJobEvent) => {
    batcher.flush();
    job.emit(event);
  };

  const memory = throttle(() => sendMemory(), MEMORY_INTERVAL_MS);
  // The job asks again after a lost device; the memory shown follows the runtime it gets.
  const runtime = watchRuntime(
    await job.acquire(),
    () => job.acquire(),
    () => memory(),
  );
  const modelRt = runtime.rt;
  // The extra devices of a run on several (slots 1…), each the current one for its slot; every one
  // made is destroyed when the job ends, however it ends.
  const extras = new Map<number, GpuRuntime>();
  const made: GpuRuntime[] = [];
  const extraWatches: (() => void)[] = [];
  // The chart shows every device together: live bytes summed, and the peak the highest sum seen
  // (the main ledger's own peak when it alone is higher). Per-device ledgers peak at different
  // moments, so adding their peaks would overstate it.
  let summedPeak = 0;
  const sendMemory = () => {
    const main = runtime.rt.ledger.snapshot();
    let liveBytes = main.liveBytes;
    for (const extra of extras.values()) if (!extra.isLost) liveBytes += extra.ledger.snapshot().liveBytes;
    summedPeak = Math.max(summedPeak, liveBytes);
    emit({ type: 'memory', liveBytes, peakBytes: Math.max(main.peakBytes, summedPeak) });
  };
  const acquire = async (slot = 0) => (slot > 0 ? acquireExtra(slot) : runtime.acquire());
  const acquireExtra = async (slot: number) => {
    const current = extras.get(slot);
    if (current && !current.isLost) return current;
    const next = await job.createRuntime();
    made.push(next);
    extras.set(slot, next);
    extraWatches.push(next.ledger.subscribe(() => memory()));
    return next;
  };
  const devices = options.devices ?? 1;
  const disk = (await job.prunedStorage) ?? { unavailable: 'this host keeps pruned matrices in memory' };
  const opfs = 'opfs' in disk ? disk.opfs : null;
  // The run's folder, made when the job first asks for a store (once the plan chose the disk).
  // (Typed by a cast: a `let` set only inside a closure would stay narrowed to null below.)
  let folder = null as Promise<PrunedRunFolder> | null;

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
      devices,
      readCalibration: (kind) => calibrationFile(job, kind),
      evalTokens: (text) => tokensFor(loaded, text, job.fetchText),
      onProgress: emit,
      onEngineEvent: batcher.push,
      signal,
      loaded: { rt: modelRt, model: loaded.model },
      denseCache: cache,
      check: (rt) => {
        if (options.prunedOnDisk && 'unavailable' in disk)
          throw new PruneOptionsError(`prunedOnDisk: ${disk.unavailable}`);
        if (evaluation) checkEvaluation(rt, loaded, evaluation);
      },
      ...(opfs && {
        prunedTensors: async () => {
          folder ??= opfs.runFolder();
          return (await folder).store();
        },
        keepPrunedElsewhere: (hostBytes: number) =>
          keepPrunedOnDisk(
            options.prunedOnDisk ?? false,
            hostBytes,
            job.onDiskThresholdBytes ?? Number.POSITIVE_INFINITY,
          ),
      }),
      checkPlan: (plan) => {
        const max = maxPruneDevices({
          cores: job.cores,
          budgetBytes: loaded.budgetBytes,
          peakBytes: plan.gpuPeakBytes,
        });
        const problem = devicesProblem(devices, canSplitBlocks(prune), max);
        if (problem) throw new PruneOptionsError(`devices = ${devices}: ${problem}`);
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
    // A run on several devices kept each range in a file of its own: only the joined one stays.
    const files = await folder;
    await files?.keepOnly(result.tensors);
    const stored = await store.add(run, result.tensors, loaded.model.source, job.tokenizerFiles, files);
    const heldRuns = store.list().flatMap((r) => (r.exportable ? [r.id] : []));
    outcome = { type: 'finished', run: stored, heldRuns };
  } catch (error) {
    // A failed or cancelled run leaves nothing on disk.
    await removeFolder(folder);
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (signal.aborted && !(reason instanceof GpuError))
      outcome = { type: 'cancelled', stage: pruneJob.stage };
    else outcome = failureEvent(pruneFailure(reason, pruneJob.resumes));
  } finally {
    runtime.stop();
    for (const stop of extraWatches) stop();
    memory.cancel();
    // The memory after the run is the main device's: the extra ones go now.
    extras.clear();
    for (const extra of made) if (!extra.isLost) extra.destroy();
  }
  sendMemory();
  emit(outcome);
  batcher.flush();
  return outcome;
}

/** Removes a run's folder, if it made one; a removal that fails is left to the next worker start (which sweeps ended sessions). */
async function removeFolder(folder: Promise<PrunedRunFolder> | null): Promise<void> {
  try {
    await (await folder)?.remove();
  } catch (error) {
    console.warn(`The pruned matrices' folder of a run that ended could not be removed now: ${error}`);
  }
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
  if (e.maxWindows !== undefined && !inBound(EVAL_BOUNDS.maxWindows, e.maxWindows))
    throw new RangeError(
      `the number of perplexity windows must be ${describeBound(EVAL_BOUNDS.maxWindows)}, got ${e.maxWindows}`,
    );
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
