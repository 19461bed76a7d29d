// The engine's browser host: a module worker that owns the GPU and answers the UI through comlink.
// Nothing here touches the DOM; the UI never touches the GPU. Every method resolves with a value,
// because an exception thrown across comlink arrives as a bare Error without kind or advice.
//
// One job runs at a time (a kernel check, a model load, an evaluation, a pruning or a training
// run): they share one device, and a second job would only slow the first and blur both one's
// timings and the other's errors.

import { expose, type ProxyMarked, type Remote, releaseProxy, transfer } from 'comlink';
import { ModelCache } from '../cache/modelCache';
import { openOpfsStore } from '../cache/opfsStore';
import { onDiskThresholdBytes, openPrunedStorage } from '../cache/prunedOnOpfs';
import { type EngineFailure, failureEvent } from '../jobs/failure';
import { checkFit, type LoadedModel, runModelLoad } from '../jobs/load';
import { modelFailure } from '../jobs/loadFailure';
import { pruneFailure } from '../jobs/pruneFailure';
import { KEPT_TENSOR_RUNS, PruneRunStore } from '../jobs/pruneRuns';
import { dataIdentity, siteFiles } from '../jobs/siteFiles';
import { trainFailure } from '../jobs/trainFailure';
import { KEPT_WEIGHT_RUNS, TrainRunStore } from '../jobs/trainRuns';
import type { ByteSource } from '../model/byteSource';
import { EVAL_TEXTS } from '../model/evaluate';
import { modelIdentity } from '../run/identity';
import { Adapprox } from '../train/optim';
import type {
  DownloadProgress,
  EngineApi,
  EngineNotice,
  ErrorEvent,
  EvalEvent,
  EvalOutcome,
  GenerateJobEvent,
  GenerateOutcome,
  JobKind,
  KernelCheckEvent,
  KernelCheckOutcome,
  ModelCacheResult,
  ModelLoadEvent,
  ModelLoadOutcome,
  PruneJobEvent,
  PruneOutcome,
  TrainJobEvent,
  TrainOutcome,
} from './api';
import { fetchEvalText, runEvaluation, tokensFor } from './evalJob';
import { errorEvent, toFailure } from './failure';
import { runGenerate } from './generateJob';
import { runKernelCheck } from './kernelCheck';
import { type CacheSlot, type InspectedModel, inspectModel } from './modelJob';
import { runPrune } from './pruneJob';
import { RuntimeSlot } from './runtimeSlot';
import { TrainControl } from './trainControl';
import { runTrain } from './trainJob';

const slot = new RuntimeSlot(() => self.navigator.gpu);
let active: { job: JobKind; controller: AbortController } | null = null;
let inspected: InspectedModel | null = null;
let loaded: LoadedModel | null = null;
/** Why there is no loaded model, when it was there and went away. */
let dropped: string | null = null;
const watchers = new Set<Remote<(notice: EngineNotice) => void>>();
/** The loaded model's tokenizer files, exported beside a pruned model's weights. */
let loadedTokenizerFiles: ByteSource[] = [];
/** The loaded model's weight files, hashed for run records. */
let loadedWeightFiles: ByteSource[] = [];
/** Finished pruning runs: every run's masks, the newest runs' pruned weights (see pruneRuns.ts). */
const pruneRuns = new PruneRunStore();
/**
 * Where pruning runs keep their matrices on disk: opened now, at worker start, which also removes
 * what ended sessions (closed tabs) left there; or why this browser cannot.
 */
const prunedStorage = openPrunedStorage();
/** navigator.deviceMemory (GB, Chromium and Edge only), which sizes the threshold for keeping pruned matrices on disk. */
const deviceMemoryGib = (self.navigator as { deviceMemory?: number }).deviceMemory ?? null;
/** Finished training runs: every run's record, the newest runs' arm weights (see trainRuns.ts). */
const trainRuns = new TrainRunStore();
/** Pause and inspection of the training run in progress. */
let training: TrainControl | null = null;
/** The folder URL whose stored files the loaded model reads (its identity hash, streamed blocks). */
let loadedStoredUrl: string | null = null;

/** This browser's store of URL folders, opened on first use; or why it cannot be had. */
let cacheSlot: Promise<CacheSlot> | null = null;
function modelCache(): Promise<CacheSlot> {
  cacheSlot ??= openOpfsStore().then(
    (store) => ({ cache: new ModelCache(store) }),
    (error: unknown) => ({ unavailable: error instanceof Error ? error.message : String(error) }),
  );
  return cacheSlot;
}

async function cacheList(cache: ModelCache): Promise<ModelCacheResult> {
  const { models, problems } = await cache.list();
  return { ok: true, available: true, models, problems, totalBytes: models.reduce((s, m) => s + m.bytes, 0) };
}

/**
 * Where the studio is served from, so the built-in model and the texts are found under a non-root
 * base too. A relative base ('./', for hosting at any path) is resolved from this worker's own
 * URL, which Vite puts one folder down, in assets/.
 */
const SITE_ROOT = import.meta.env.BASE_URL.startsWith('/')
  ? self.location.origin + import.meta.env.BASE_URL
  : new URL('../', self.location.href).href;
const site = siteFiles(SITE_ROOT);

const JOB_NAMES: Record<JobKind, string> = {
  'kernel-check': 'A kernel check',
  load: 'A model load',
  evaluate: 'An evaluation',
  prune: 'A pruning run',
  train: 'A training run',
  generate: 'A generation',
};

const RELOAD_ADVICE = 'Load the model again: its weights were on the device that was lost.';

// A lost device ends the running job with its error, and takes the loaded model with it (its
// buffers died with the device). The slot has already let the runtime go, so the next call
// acquires a new device; the model has to be loaded again onto that one.
slot.onLost((error) => {
  // Evaluation, pruning and training runs watch their own device and continue on a new one from
  // their first unfinished window, last finished block or last validation.
  if (active?.job !== 'evaluate' && active?.job !== 'prune' && active?.job !== 'train')
    active?.controller.abort(error);
  if (loaded) {
    loaded = null;
    dropped = `The GPU device was lost, and the loaded model with it (${error.message}).`;
    for (const watcher of watchers) {
      void Promise.resolve(watcher({ type: 'model-dropped', message: dropped, advice: RELOAD_ADVICE })).catch(
        () => watchers.delete(watcher),
      );
    }
  }
});

/**
 * Runs a job under the one-job rule and delivers its events through the caller's proxied
 * callback, which is released at the end. A page that closed mid-run leaves a dead port; losing
 * its events must not fail the job.
 */
async function runJob<E extends { type: string }, O extends E>(
  job: JobKind,
  onEvent: (event: E) => void,
  body: (emit: (event: E) => void, signal: AbortSignal) => Promise<O>,
): Promise<O> {
  // Events are plain data: comlink clones them, so the remote takes them as they are.
  const remote = onEvent as unknown as ((event: E) => Promise<void>) &
    Pick<Remote<object>, typeof releaseProxy> &
    ProxyMarked;
  const emit = (event: E) => void Promise.resolve(remote(event)).catch(() => {});
  let outcome: O;
  if (active) {
    // Every job's outcome type includes ErrorEvent.
    outcome = {
      type: 'error',
      kind: 'busy',
      message: `${JOB_NAMES[active.job]} is already running.`,
      advice: 'Wait for it to finish or cancel it first.',
    } satisfies ErrorEvent as unknown as O;
    emit(outcome);
  } else {
    const controller = new AbortController();
    active = { job, controller };
    try {
      outcome = await body(emit, controller.signal);
    } finally {
      if (active?.controller === controller) active = null;
    }
  }
  remote[releaseProxy]();
  return outcome;
}

/**
 * A job's body, whose failure (one it did not catch itself) becomes the event that ends it, with
 * the job's own advice.
 */
async function orFailure<O>(
  emit: (event: ErrorEvent) => void,
  failure: (error: unknown) => EngineFailure,
  body: () => Promise<O>,
): Promise<O | ErrorEvent> {
  try {
    return await body();
  } catch (error) {
    const outcome = failureEvent(failure(error));
    emit(outcome);
    return outcome;
  }
}

/** A job on the loaded model, as orFailure; it ends at once when no model is loaded. */
function onLoaded<O>(
  emit: (event: ErrorEvent) => void,
  failure: (error: unknown) => EngineFailure,
  body: (model: LoadedModel) => Promise<O>,
): Promise<O | ErrorEvent> {
  const model = loaded;
  if (!model) {
    const outcome = noModel();
    emit(outcome);
    return Promise.resolve(outcome);
  }
  return orFailure(emit, failure, () => body(model));
}

function noModel(): ErrorEvent {
  return {
    type: 'error',
    kind: 'no-model',
    message: dropped ?? 'No model is loaded.',
    advice: dropped ? RELOAD_ADVICE : 'Choose a model and load it first.',
  };
}

const fetchText = (text: Parameters<typeof fetchEvalText>[0]) => fetchEvalText(text, SITE_ROOT);

const engine: EngineApi = {
  async capability() {
    try {
      const rt = await slot.acquire();
      return { ok: true, report: rt.capability };
    } catch (error) {
      return toFailure(error);
    }
  },

  runKernelCheck(options, onEvent) {
    return runJob<KernelCheckEvent, KernelCheckOutcome>('kernel-check', onEvent, async (emit, signal) => {
      try {
        const rt = await slot.acquire();
        return await runKernelCheck(rt, options, emit, signal);
      } catch (error) {
        const outcome = errorEvent(error);
        emit(outcome);
        return outcome;
      }
    });
  },

  async cancel(job) {
    if (active && (job === undefined || active.job === job)) active.controller.abort();
  },

  async inspectModel(source, options, onDownload) {
    // The callback is a comlink proxy: calls to it are messages, not awaited, and it is released
    // when the open ends, whatever the outcome.
    const remote = onDownload as unknown as
      | (((p: DownloadProgress) => Promise<void>) & ProxyMarked & Pick<Remote<object>, typeof releaseProxy>)
      | undefined;
    try {
      const rt = await slot.acquire();
      const model = await inspectModel(
        source,
        SITE_ROOT,
        fetch,
        source.kind === 'url' ? await modelCache() : undefined,
        remote ? (p) => void Promise.resolve(remote(p)).catch(() => {}) : undefined,
      );
      const answer = checkFit(rt, model.opened.config, options, model.opened.weights);
      inspected = model;
      return { ok: true, summary: model.summary, cache: model.cache, ...answer };
    } catch (error) {
      // The previously inspected model stays: bad input must not undo what was there.
      return modelFailure(error);
    } finally {
      remote?.[releaseProxy]();
    }
  },

  async cachedModels() {
    try {
      const slot = await modelCache();
      return 'cache' in slot
        ? await cacheList(slot.cache)
        : { ok: true, available: false, reason: slot.unavailable };
    } catch (error) {
      return toFailure(error);
    }
  },

  async deleteCachedModels(url) {
    try {
      const slot = await modelCache();
      if (!('cache' in slot)) return { ok: true, available: false, reason: slot.unavailable };
      // The open and the loaded model read their files from the store: deleting them would break
      // loading, streamed passes and the weights' hash for run records.
      const inUse = [inspected?.storedUrl, loaded ? loadedStoredUrl : null].filter(
        (u): u is string => typeof u === 'string' && (url === null || u === url),
      );
      if (inUse.length > 0) {
        return {
          ok: false,
          kind: 'busy',
          message: `${inUse[0]} is open in the studio, and its files are read from the stored copy.`,
          advice: 'Open (and load) another model first, then delete this one.',
        };
      }
      if (url === null) await slot.cache.clear();
      else await slot.cache.remove(url);
      return await cacheList(slot.cache);
    } catch (error) {
      return toFailure(error);
    }
  },

  async checkFit(options) {
    if (!inspected) return { ok: false, ...withoutType(noModel()), message: 'No model has been opened yet.' };
    try {
      const rt = await slot.acquire();
      return { ok: true, ...checkFit(rt, inspected.opened.config, options, inspected.opened.weights) };
    } catch (error) {
      return modelFailure(error);
    }
  },

  loadModel(options, onEvent) {
    return runJob<ModelLoadEvent, ModelLoadOutcome>('load', onEvent, async (emit, signal) => {
      const model = inspected;
      if (!model) {
        const outcome = { ...noModel(), message: 'No model has been opened yet.' };
        emit(outcome);
        return outcome;
      }
      return orFailure(emit, modelFailure, async () => {
        const rt = await slot.acquire();
        const result = await runModelLoad({
          rt,
          inspected: model,
          options,
          emit,
          signal,
          dropPrevious: () => {
            loaded?.model.destroy();
            loaded = null;
            loadedStoredUrl = null;
            dropped = null;
          },
        });
        if (result.loaded) {
          loaded = result.loaded;
          loadedTokenizerFiles = model.tokenizerFiles;
          loadedWeightFiles = model.weightFiles;
          loadedStoredUrl = model.storedUrl;
        }
        return result.outcome;
      });
    });
  },

  async textInfo(text) {
    const model = loaded;
    if (!model) return { ok: false, ...withoutType(noModel()) };
    try {
      const tokens = await tokensFor(model, text, fetchText);
      return { ok: true, text, label: EVAL_TEXTS[text].label, tokens: tokens.length };
    } catch (error) {
      return modelFailure(error);
    }
  },

  evaluate(options, onEvent) {
    return runJob<EvalEvent, EvalOutcome>('evaluate', onEvent, (emit, signal) =>
      onLoaded(emit, modelFailure, (model) =>
        runEvaluation({ acquire: () => slot.acquire(), loaded: model, options, fetchText, emit, signal }),
      ),
    );
  },

  async watch(onNotice) {
    watchers.add(onNotice as unknown as Remote<(notice: EngineNotice) => void>);
  },

  prune(options, onEvent) {
    return runJob<PruneJobEvent, PruneOutcome>('prune', onEvent, (emit, signal) =>
      onLoaded(
        emit,
        (error) => pruneFailure(error),
        (model) =>
          runPrune({
            loaded: model,
            options,
            acquire: () => slot.acquire(),
            createRuntime: () => slot.createExtra(),
            cores: self.navigator.hardwareConcurrency ?? 1,
            fetchText,
            fetchFile: site.text,
            store: pruneRuns,
            tokenizerFiles: loadedTokenizerFiles,
            emit,
            signal,
            prunedStorage,
            onDiskThresholdBytes: onDiskThresholdBytes(deviceMemoryGib ?? undefined),
          }),
      ),
    );
  },

  generate(options, onEvent) {
    return runJob<GenerateJobEvent, GenerateOutcome>('generate', onEvent, (emit, signal) =>
      onLoaded(emit, modelFailure, async (model) => {
        const rt = await slot.acquire();
        return runGenerate({ rt, loaded: model, store: pruneRuns, options, emit, signal });
      }),
    );
  },

  async maskOf(runId, tensor) {
    const mask = pruneRuns.mask(runId, tensor);
    if (!mask) return runMissing(runId, `has no matrix ${tensor}`);
    // A copy goes: the worker keeps its own for the next request.
    const bits = mask.bits.slice();
    return transfer({ ok: true as const, tensor, rows: mask.rows, cols: mask.cols, bits }, [bits.buffer]);
  },

  async exportRun(runId) {
    try {
      const files = await pruneRuns.exportFiles(runId);
      if (!files) {
        if (!pruneRuns.hasRun(runId)) return runMissing(runId, 'is not in this session');
        return {
          ok: false,
          kind: 'range',
          message: `The pruned weights of run ${runId} are no longer held: the worker keeps the newest ${KEPT_TENSOR_RUNS} runs' weights.`,
          advice:
            'Run it again with the same settings (they are in the results table; the run is seeded) and export it then.',
        };
      }
      const buffers = [...new Set(files.map((f) => f.data.buffer as ArrayBuffer))];
      return transfer({ ok: true as const, files }, buffers);
    } catch (error) {
      return modelFailure(error);
    }
  },

  async forgetRun(runId) {
    try {
      await pruneRuns.forget(runId);
    } catch (error) {
      // The run is gone from the session; a folder left behind goes at the next worker start.
      console.warn(`Run ${runId}'s pruned matrices could not be removed from disk now: ${error}`);
    }
  },

  async prunedStorage() {
    const slot = await prunedStorage;
    const sizes = { thresholdBytes: onDiskThresholdBytes(deviceMemoryGib ?? undefined), deviceMemoryGib };
    return 'opfs' in slot
      ? { available: true, ...sizes }
      : { available: false, reason: slot.unavailable, ...sizes };
  },

  async modelIdentity() {
    const model = loaded;
    if (!model) return { ok: false, ...withoutType(noModel()) };
    try {
      return { ok: true, identity: await modelIdentity(model.summary, loadedWeightFiles) };
    } catch (error) {
      return modelFailure(error);
    }
  },

  async dataIdentity(name) {
    try {
      return { ok: true, identity: await dataIdentity(name, SITE_ROOT) };
    } catch (error) {
      return modelFailure(error);
    }
  },

  train(options, onEvent) {
    return runJob<TrainJobEvent, TrainOutcome>('train', onEvent, async (emit, signal) => {
      const control = new TrainControl();
      training = control;
      try {
        return await orFailure(
          emit,
          (error) => trainFailure(error),
          () =>
            runTrain({
              options,
              acquire: () => slot.acquire(),
              loaded,
              loadedTokenizerFiles,
              files: site,
              store: trainRuns,
              control,
              emit,
              signal,
            }),
        );
      } finally {
        if (training === control) training = null;
      }
    });
  },

  async pauseTrain(paused) {
    training?.setPaused(paused);
  },

  inspectSecondMoment(arm, matrix) {
    if (!training)
      return Promise.resolve({
        ok: false,
        kind: 'range',
        message: 'No training run is running.',
        advice: 'Start a run with an Adapprox arm; the spectrum is taken at its next step.',
      });
    return training.inspect(arm, matrix);
  },

  async exportTrainArm(runId, arm) {
    try {
      const files = await trainRuns.exportArm(runId, arm);
      if (!files) {
        if (!trainRuns.hasRun(runId)) return runMissing(runId, 'is not in this session');
        return {
          ok: false,
          kind: 'range',
          message: `The weights of arm ${arm} of run ${runId} are no longer held: the worker keeps the newest ${KEPT_WEIGHT_RUNS} runs' weights.`,
          advice: 'Run it again with the same settings (the run is seeded) and save it then.',
        };
      }
      const buffers = [...new Set(files.map((f) => f.data.buffer as ArrayBuffer))];
      return transfer({ ok: true as const, files }, buffers);
    } catch (error) {
      return modelFailure(error);
    }
  },

  async forgetTrainRun(runId) {
    trainRuns.forget(runId);
  },

  async adapproxDefaults() {
    // The constructor only reads its options: nothing touches the GPU.
    const adapprox = new Adapprox();
    return { methods: { ...adapprox.methods }, errorThreshold: adapprox.errorThreshold };
  },
};

function runMissing(runId: string, what: string) {
  return {
    ok: false as const,
    kind: 'range' as const,
    message: `Run ${runId} ${what}.`,
    advice: 'Runs live as long as this page: pick a run from the results table.',
  };
}

function withoutType<T extends { type: string }>({ type: _, ...rest }: T): Omit<T, 'type'> {
  return rest;
}

expose(engine);
