// What the load job tells its host, as plain data: the model's summary from its headers, the fit
// check's answer, and the events of a load. The studio's worker sends them to the page unchanged
// (worker/api.ts re-exports them), the CLI prints them.

import type { Family } from '../model/config';
import type { FitReport } from '../model/fit';
import type { Residency } from '../model/gpuModel';
import type { ErrorEvent, MemoryEvent } from './failure';

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
