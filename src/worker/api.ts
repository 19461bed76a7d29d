// The contract between the UI thread and the engine worker. It holds types only, so the UI can
// import it without pulling engine code (and the GPU) onto the main thread. Failures cross the
// boundary as values: a thrown error loses its class and its advice in structured cloning.

import type { CapabilityReport } from '../gpu/device';
import type { GpuErrorKind } from '../gpu/errors';
import type { KernelCaseResult } from '../kernels/suite';
import type { Family } from '../model/config';
import type { EvalText } from '../model/evaluate';
import type { FitReport } from '../model/fit';
import type { Residency } from '../model/gpuModel';
import type { PerplexityProgress, PerplexityResult } from '../model/perplexity';

/**
 * GPU failures, plus 'busy' (a job is already running) and 'internal' (a bug, not the GPU), and
 * what a model or a text can get wrong: its files ('model-format', 'tokenizer'), where they come
 * from ('network'), its size ('does-not-fit'), a setting outside what the model or text allows
 * ('range'), and a job that needs a loaded model when there is none ('no-model').
 */
export type EngineErrorKind =
  | GpuErrorKind
  | 'busy'
  | 'internal'
  | 'model-format'
  | 'tokenizer'
  | 'network'
  | 'does-not-fit'
  | 'range'
  | 'no-model';

export interface EngineFailure {
  ok: false;
  kind: EngineErrorKind;
  message: string;
  /** What a person can do about it. */
  advice: string;
}

export type CapabilityResult = { ok: true; report: CapabilityReport } | EngineFailure;

export interface KernelCheckOptions {
  /** Replays a previous run; a fresh seed is drawn when absent. */
  seed?: number;
  /** Timed runs per case after the checked one. */
  timedRuns?: number;
}

/** Live and peak bytes from the buffer ledger, sent at most every few hundred milliseconds. */
export interface MemoryEvent {
  type: 'memory';
  liveBytes: number;
  peakBytes: number;
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

/** The event that ends any job with a failure. */
export type ErrorEvent = { type: 'error'; kind: EngineErrorKind; message: string; advice: string };

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

/** What the fit check depends on besides the model: the user's memory budget and the window length. */
export interface FitOptions {
  /** WebGPU does not report how much memory the GPU has, so this is the user's setting. */
  budgetBytes: number;
  seqLen: number;
}

export interface ModelSummary {
  /** 'stories260K (built-in)', the folder or files dropped, or the URL. */
  name: string;
  family: Family;
  format: 'safetensors' | 'llama2c';
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffnHidden: number;
  vocabSize: number;
  /** Longest window the model was trained for (max_position_embeddings). */
  context: number;
  /** The window the papers evaluate OPT and LLaMA with (2048). */
  paperSeqLen: number;
  /** The papers' window, or the model's context when that is shorter. */
  defaultSeqLen: number;
  parameters: number;
  /** Bytes of weight data in the files (as stored: f16 checkpoints take half of what the GPU holds). */
  weightBytes: number;
  /** The files the weights come from. */
  weightFiles: string[];
  /** Tokenizer files found beside the weights; empty when there are none. */
  tokenizerFiles: string[];
}

/** The device limits a fit report is judged against, for showing beside it. */
export interface FitLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** A fit report with what it was computed for: seqLen is the default one when none was asked for. */
export interface FitAnswer {
  fit: FitReport;
  options: FitOptions;
  limits: FitLimits;
}

export type InspectResult = ({ ok: true; summary: ModelSummary } & FitAnswer) | EngineFailure;

export type FitResult = ({ ok: true } & FitAnswer) | EngineFailure;

/** read: bytes come from the file or URL; parse: they become f32 in the engine's layout; upload: to the GPU. */
export type LoadPhase = 'read' | 'parse' | 'upload';

export interface LoadProgressEvent {
  type: 'progress';
  phase: LoadPhase;
  /** Bytes the GPU will hold (f32), of the tensors loaded now: all of them when resident, the shared ones when streaming. */
  bytesDone: number;
  bytesTotal: number;
  /** The tensor (or tokenizer file) being worked on. */
  item: string;
  elapsedMs: number;
  /** Null until the first bytes are done and a rate is known. */
  etaMs: number | null;
}

export type ModelLoadEvent =
  | { type: 'started'; name: string; residency: Residency; bytesTotal: number; verdict: FitReport['verdict'] }
  | LoadProgressEvent
  | {
      type: 'loaded';
      summary: ModelSummary;
      residency: Residency;
      bytesUploaded: number;
      ms: number;
      /** Which tokenizer loader was used, and from which file. */
      tokenizer: string;
      /** The budget the model was loaded under; evaluation checks longer windows against it. */
      budgetBytes: number;
    }
  | { type: 'cancelled'; bytesDone: number; bytesTotal: number }
  | ErrorEvent
  | MemoryEvent;

export type ModelLoadOutcome = Extract<ModelLoadEvent, { type: 'loaded' | 'cancelled' | 'error' }>;

export interface EvalOptions {
  text: EvalText;
  seqLen: number;
  /** Score only the first windows; all when absent. */
  maxWindows?: number;
}

export type TextInfoResult = { ok: true; text: EvalText; label: string; tokens: number } | EngineFailure;

export interface EvalResult extends PerplexityResult {
  text: EvalText;
  label: string;
  ms: number;
  tokensPerSecond: number;
}

export type EvalEvent =
  /** The text is being fetched and tokenized (only the first time per text and model). */
  | { type: 'preparing'; text: EvalText; label: string }
  | { type: 'started'; text: EvalText; label: string; seqLen: number; total: number; tokensInText: number }
  | ({ type: 'window' } & PerplexityProgress)
  | { type: 'finished'; result: EvalResult }
  | { type: 'cancelled'; done: number; total: number }
  | ErrorEvent
  | MemoryEvent;

export type EvalOutcome = Extract<EvalEvent, { type: 'finished' | 'cancelled' | 'error' }>;

/** Told to the UI outside any job: the loaded model is gone with the device. */
export type EngineNotice = { type: 'model-dropped'; message: string; advice: string };

export type JobKind = 'kernel-check' | 'load' | 'evaluate';

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
  ): Promise<InspectResult>;
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
}
