// The contract between the UI thread and the engine worker. It holds types only, so the UI can
// import it without pulling engine code (and the GPU) onto the main thread. Failures cross the
// boundary as values: a thrown error loses its class and its advice in structured cloning.

import type { CachedModel } from '../cache/modelCache';
import type { CapabilityReport } from '../gpu/device';
import type { EvalJobProgress, EvalJobResult } from '../jobs/eval';
import type { EvalJobOptions } from '../jobs/evalOptions';
import type { EngineErrorKind, EngineFailure, ErrorEvent, MemoryEvent } from '../jobs/failure';
import type {
  FitAnswer,
  FitOptions,
  ModelLoadEvent,
  ModelLoadOutcome,
  ModelSummary,
} from '../jobs/loadTypes';
import type { PruneJobProgress, PruneStage } from '../jobs/prune';
import type { ExportedRunFile, PruneRun } from '../jobs/pruneRuns';
import type { TrainJobOptions } from '../jobs/trainData';
import type { TrainRun } from '../jobs/trainRuns';
import type { KernelCaseResult } from '../kernels/suiteCase';
import type { EvalText } from '../model/evaluate';
import type { PruneEvent } from '../prune/events';
import type { PruneOptions } from '../prune/options';
import type { BuiltinData } from '../run/identity';
import type { DataIdentity, ModelIdentity } from '../run/record';
import type { SecondMomentSpectrum, TrainEvent } from '../train/job';

// The failure values, the load job's types and the runs a host keeps are the jobs layer's
// (host-neutral); the studio imports them from here, with the rest of the contract.
export type { EngineErrorKind, EngineFailure, ErrorEvent, MemoryEvent } from '../jobs/failure';
export type {
  FitAnswer,
  FitLimits,
  FitOptions,
  LoadPhase,
  LoadProgressEvent,
  ModelLoadEvent,
  ModelLoadOutcome,
  ModelSummary,
} from '../jobs/loadTypes';
export type { ExportedRunFile, PruneRun } from '../jobs/pruneRuns';
export type { TrainDataChoice, TrainJobOptions, TrainModelChoice } from '../jobs/trainData';
export type { TrainRun } from '../jobs/trainRuns';
export type { BuiltinData } from '../run/identity';

export type CapabilityResult = { ok: true; report: CapabilityReport } | EngineFailure;

export interface KernelCheckOptions {
  /** Replays a previous run; a fresh seed is drawn when absent. */
  seed?: number;
  /** Timed runs per case after the checked one. */
  timedRuns?: number;
}

export type KernelCheckEvent =
  | { type: 'started'; total: number; seed: number }
  | { type: 'result'; done: number; total: number; result: KernelCaseResult }
  | { type: 'finished'; results: KernelCaseResult[]; passed: number; failed: number; ms: number }
  | { type: 'cancelled'; done: number; total: number }
  | { type: 'error'; kind: EngineErrorKind; message: string; advice: string }
  | MemoryEvent;

/** The event that ends a kernel check; runKernelCheck also resolves with it. */
export type KernelCheckOutcome = Extract<KernelCheckEvent, { type: 'finished' | 'cancelled' | 'error' }>;

/**
 * Where a model comes from. Files are handed over as File objects (structured cloning keeps them
 * lazy: the worker reads slices, never the whole checkpoint). A URL names a folder laid out as on
 * the Hugging Face hub (…/resolve/main/), served with range requests.
 */
export type ModelSource =
  | { kind: 'builtin' }
  /** label: what to call the model (a dropped folder's name); the file names otherwise. */
  | { kind: 'files'; files: File[]; label?: string }
  | { kind: 'url'; url: string };

/**
 * Where a URL folder's files came from: 'hit', this browser's storage (no request); 'stored',
 * the network, and now stored; 'uncached', the network only (reason says why: no private file
 * system, or the quota is full).
 */
export interface CacheNote {
  status: 'hit' | 'stored' | 'uncached';
  /** When the stored copy was made (ISO 8601), and its bytes; null and 0 when uncached. */
  storedAt: string | null;
  bytes: number;
  /** Why the files were not stored; null when they were. */
  reason: string | null;
  /** Why a stored copy was thrown away before this open (a damaged file or manifest); null if none was. */
  dropped: string | null;
}

/** The models stored in this browser (newest first), or why none can be stored here. */
export type ModelCacheResult =
  | {
      ok: true;
      available: true;
      models: CachedModel[];
      totalBytes: number;
      /** Entries found damaged while listing, and removed. */
      problems: string[];
    }
  | { ok: true; available: false; reason: string }
  | EngineFailure;

/** A URL folder's file being downloaded into this browser's storage while the model opens. */
export interface DownloadProgress {
  type: 'download';
  /** The file's URL. */
  file: string;
  bytesDone: number;
  /** From Content-Length; null when the server does not say. */
  bytesTotal: number | null;
}

export type InspectResult =
  | ({ ok: true; summary: ModelSummary; cache: CacheNote | null } & FitAnswer)
  | EngineFailure;

export type FitResult = ({ ok: true } & FitAnswer) | EngineFailure;

export type EvalOptions = EvalJobOptions;

export type TextInfoResult = { ok: true; text: EvalText; label: string; tokens: number } | EngineFailure;

export type EvalResult = EvalJobResult;

export type EvalEvent =
  /** The text is being fetched and tokenized (only the first time per text and model). */
  | { type: 'preparing'; text: EvalText; label: string }
  /** started, window, degraded (out of memory), resumed (on a new device after a lost one). */
  | EvalJobProgress
  | { type: 'finished'; result: EvalResult }
  | { type: 'cancelled'; done: number; total: number }
  | ErrorEvent
  | MemoryEvent;

export type EvalOutcome = Extract<EvalEvent, { type: 'finished' | 'cancelled' | 'error' }>;

/** Told to the UI outside any job: the loaded model is gone with the device. */
export type EngineNotice = { type: 'model-dropped'; message: string; advice: string };

export type JobKind = 'kernel-check' | 'load' | 'evaluate' | 'prune' | 'train' | 'generate';

// ---------------------------------------------------------------------------------------------
// Pruning

/** A pruning run: the engine's options, and the perplexity measured before and after (none when null). */
export interface PruneJobOptions {
  prune: PruneOptions;
  evaluation: { text: EvalText; seqLen: number; maxWindows?: number } | null;
  /**
   * GPU devices to prune on at once (default 1): FISTAPruner's blocks split into ranges, each on
   * its own device of the same worker (prune/parallel.ts), joined into the one-device result.
   */
  devices?: number;
  /**
   * Keep the finished blocks' pruned matrices on disk (the private file system) rather than in the
   * tab's memory; a run whose plan needs more than the threshold of PrunedStorageResult does so unasked.
   */
  prunedOnDisk?: boolean;
}

/** Whether pruned matrices can be kept on disk here (cache/prunedOnOpfs.ts), and when a run does so unasked. */
export type PrunedStorageResult = { thresholdBytes: number; deviceMemoryGib: number | null } & (
  | { available: true }
  | { available: false; reason: string }
);

export type { PruneStage };

export type PruneJobEvent =
  /** Calibration, perplexity before and after, and resumptions: the job's own progress (src/jobs/prune.ts). */
  | PruneJobProgress
  /**
   * The engine's own events, in order, batched every ~100 ms, none dropped: a λ round's objective
   * arrives as one series the engine already thinned (src/prune/fistaTrace.ts).
   */
  | { type: 'prune'; events: PruneEvent[] }
  /** heldRuns: the runs whose pruned weights the worker still holds (exportRun works for these). */
  | { type: 'finished'; run: PruneRun; heldRuns: string[] }
  | { type: 'cancelled'; stage: PruneStage }
  | ErrorEvent
  | MemoryEvent;

export type PruneOutcome = Extract<PruneJobEvent, { type: 'finished' | 'cancelled' | 'error' }>;

// ---------------------------------------------------------------------------------------------
// Generation (the playground)

/** The loaded (dense) model's id among the models a generation job runs. */
export const DENSE_MODEL = 'dense';

/** A prompt continued by several models in turn, with the same sampling settings and seed. */
export interface GenerateJobOptions {
  prompt: string;
  /** DENSE_MODEL and/or ids of pruning runs whose weights the worker holds, in the order they run. */
  models: string[];
  maxNewTokens: number;
  /** 0 is greedy. */
  temperature: number;
  /** Null draws among every token. */
  topK: number | null;
  seed: number;
  /**
   * Keep each pruned run's block matrices compressed in its pattern (N:M, or a bitmask for
   * unstructured) and multiply with the sparse kernels; otherwise they are stored densely.
   */
  sparseKernels: boolean;
}

/** What one model's continuation took. */
export interface GeneratedText {
  text: string;
  /** New tokens, a stop token included. */
  tokens: number;
  promptTokens: number;
  stopReason: 'stop-token' | 'stop-text' | 'max-tokens';
  prefillTokensPerSecond: number;
  /** 0 when the continuation was one token (it needs no decode step). */
  decodeTokensPerSecond: number;
  /** Bytes the model's weights take on the GPU (the ledger's). */
  weightBytes: number;
  /** The sparse format its block matrices were kept in, when they were compressed. */
  compressed: 'nm' | 'bitmask' | null;
  /** Bytes of the KV cache the run held. */
  cacheBytes: number;
}

export type GenerateJobEvent =
  | { type: 'model-started'; model: string }
  /** A piece of text (possibly '' while a character is incomplete) and the pace so far. */
  | { type: 'token'; model: string; index: number; text: string; tokensPerSecond: number }
  | { type: 'model-finished'; model: string; result: GeneratedText }
  | { type: 'finished' }
  | { type: 'cancelled' }
  | ErrorEvent
  | MemoryEvent;

export type GenerateOutcome = Extract<GenerateJobEvent, { type: 'finished' | 'cancelled' | 'error' }>;

/**
 * A run's mask of one matrix: bit i (LSB first within each byte) is entry i of the out × in
 * row-major matrix, set when the weight was kept (non-zero). Unused bits of the last byte are 0.
 */
export type MaskResult =
  | { ok: true; tensor: string; rows: number; cols: number; bits: Uint8Array }
  | EngineFailure;

export type ExportResult = { ok: true; files: ExportedRunFile[] } | EngineFailure;

// ---------------------------------------------------------------------------------------------
// Run records

export type ModelIdentityResult = { ok: true; identity: ModelIdentity } | EngineFailure;
export type DataIdentityResult = { ok: true; identity: DataIdentity } | EngineFailure;

// ---------------------------------------------------------------------------------------------
// Training (the optimizer studio)

export type TrainJobEvent =
  /** The text is fetched (first time only) and tokenized; a preset's tokenizer is read. */
  | { type: 'preparing'; label: string }
  | {
      type: 'prepared';
      label: string;
      modelName: string;
      trainTokens: number;
      validationTokens: number;
    }
  /** The engine's events in order, batched every ~150 ms; elapsedMs: time spent training, pauses left out. */
  | { type: 'train'; events: TrainEvent[]; elapsedMs: number }
  /** The device was lost; the run continues on a new one from the checkpoint of step `step`. */
  | { type: 'resumed'; step: number; attempt: number; message: string }
  /** The GPU's memory ran out; the run continues from the checkpoint of `step` with one arm at a time on the GPU. */
  | { type: 'degraded'; step: number; message: string }
  /** The pause landed between steps (after `step` steps of every arm), or the run goes on again. */
  | { type: 'paused'; step: number }
  | { type: 'continued' }
  /** The arms' weights were kept (sent before the outcome, also for a cancelled or failed run). */
  | { type: 'kept'; run: TrainRun; heldRuns: string[] }
  | { type: 'finished'; runId: string }
  | { type: 'cancelled'; step: number }
  | ErrorEvent
  | MemoryEvent;

export type TrainOutcome = Extract<TrainJobEvent, { type: 'finished' | 'cancelled' | 'error' }>;

export interface AdapproxDefaults {
  methods: Record<string, string>;
  /** ξ_thr, the relative error the adaptive rank aims for. */
  errorThreshold: number;
}

export type SpectrumResult = { ok: true; spectrum: SecondMomentSpectrum } | EngineFailure;

/** What the worker exposes through comlink. Every method resolves; none rejects on GPU failure. */
export interface EngineApi {
  capability(): Promise<CapabilityResult>;
  /** onEvent must be wrapped in comlink's proxy() by the caller. */
  runKernelCheck(
    options: KernelCheckOptions,
    onEvent: (event: KernelCheckEvent) => void,
  ): Promise<KernelCheckOutcome>;
  /**
   * Stops the running job at its next step (a kernel case, a tensor, a window); a no-op when
   * nothing runs, or when a job is named and another one runs.
   */
  cancel(job?: JobKind): Promise<void>;

  /** Reads a model's headers (never its weights) and checks it against this GPU. Replaces the inspected model, not the loaded one. */
  inspectModel(
    source: ModelSource,
    options: { budgetBytes: number; seqLen?: number },
    /** Told how a URL folder's download into the browser's storage goes (comlink-proxied). */
    onDownload?: (progress: DownloadProgress) => void,
  ): Promise<InspectResult>;
  /** The model folders stored in this browser by opening them from a URL. */
  cachedModels(): Promise<ModelCacheResult>;
  /**
   * Deletes one stored model (by its folder URL) or, with null, all of them, and answers with what
   * is left. Refused for the model open or loaded in the studio, whose files are read from there.
   */
  deleteCachedModels(url: string | null): Promise<ModelCacheResult>;
  /** The fit check of the inspected model again, for another budget or sequence length. */
  checkFit(options: FitOptions): Promise<FitResult>;
  /**
   * Uploads the inspected model (resident if it fits, block-streamed if only a block fits; refused
   * if not even that) and its tokenizer. The previously loaded model is destroyed first.
   */
  loadModel(options: FitOptions, onEvent: (event: ModelLoadEvent) => void): Promise<ModelLoadOutcome>;
  /** Fetches and tokenizes an evaluation text with the loaded model's tokenizer (cached). */
  textInfo(text: EvalText): Promise<TextInfoResult>;
  /** Perplexity of the loaded model on an evaluation text, window by window. */
  evaluate(options: EvalOptions, onEvent: (event: EvalEvent) => void): Promise<EvalOutcome>;
  /** Registers for notices outside jobs (a lost device drops the model). onNotice must be proxied. */
  watch(onNotice: (notice: EngineNotice) => void): Promise<void>;

  /**
   * Prunes the loaded model: calibration, perplexity before (cached per model, text and windows),
   * the engine's run block by block (continued from its checkpoint if the device is lost), and
   * perplexity after on the pruned weights.
   */
  prune(options: PruneJobOptions, onEvent: (event: PruneJobEvent) => void): Promise<PruneOutcome>;
  /** The kept/pruned mask of one matrix of a run (its bits are transferred). */
  maskOf(runId: string, tensor: string): Promise<MaskResult>;
  /** A run's model as files: model.safetensors, config.json, the tokenizer files, summary.json (transferred). */
  exportRun(runId: string): Promise<ExportResult>;
  /** Drops a run's masks and weights from the worker (and its files, when they were kept on disk). */
  forgetRun(runId: string): Promise<void>;
  /** Whether pruning runs can keep their matrices on disk in this browser, and above which planned host bytes they do. */
  prunedStorage(): Promise<PrunedStorageResult>;
  /**
   * Continues a prompt with the loaded model and/or pruned runs, one after another, streaming
   * tokens; cancellable between tokens.
   */
  generate(options: GenerateJobOptions, onEvent: (event: GenerateJobEvent) => void): Promise<GenerateOutcome>;

  /** The loaded model's name, files and sha256 of its weight bytes, for run records (hashed once per load). */
  modelIdentity(): Promise<ModelIdentityResult>;
  /** A shipped text's name, size and sha256 of its file, for run records (hashed once per session). */
  dataIdentity(name: BuiltinData): Promise<DataIdentityResult>;

  /**
   * Trains arms side by side (a preset from scratch, or the loaded model fine-tuned) on the same
   * batches. Pausable (pauseTrain) and cancellable between steps; every arm's weights are kept after
   * it ends (exportTrainArm), the last validation's when it fails.
   */
  train(options: TrainJobOptions, onEvent: (event: TrainJobEvent) => void): Promise<TrainOutcome>;
  /** Holds the running training job before its next step, or lets it go on; a no-op when none runs. */
  pauseTrain(paused: boolean): Promise<void>;
  /**
   * The singular spectrum of an Adapprox arm's dense second moment V for one matrix, taken at the
   * arm's next step of the running job (so it resolves once the job goes on after a pause).
   */
  inspectSecondMoment(arm: string, matrix: string): Promise<SpectrumResult>;
  /** One arm of a training run as files: model.safetensors, config.json, tokenizer, summary.json (transferred). */
  exportTrainArm(runId: string, arm: string): Promise<ExportResult>;
  forgetTrainRun(runId: string): Promise<void>;
  /** How Adapprox does what the paper leaves open (its `methods`), and its ξ_thr, for the studio to label. */
  adapproxDefaults(): Promise<AdapproxDefaults>;
}
