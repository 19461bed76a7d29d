// Model-load and evaluation state as pure functions of the worker's events, as checkReducer does
// for the kernel check: the store stays a thin shell, and the event handling is tested without a
// worker or a GPU.

import type { EvalText } from '../../model/evaluate';
import type { Residency } from '../../model/gpuModel';
import type { EvalEvent, EvalResult, LoadPhase, ModelLoadEvent, ModelSummary } from '../../worker/api';
import { JOB_IDLE, type JobCommon, type JobError, withJobError, withMemory } from '../shell/jobState';

export interface LoadedInfo {
  summary: ModelSummary;
  residency: Residency;
  tokenizer: string;
  bytesUploaded: number;
  ms: number;
  budgetBytes: number;
}

export interface LoadState extends JobCommon {
  status: 'idle' | 'loading' | 'loaded' | 'cancelled' | 'error';
  /** The model being loaded, or the last one tried. */
  name: string | null;
  residency: Residency | null;
  phase: LoadPhase | null;
  item: string;
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
  etaMs: number | null;
  /** What is on the GPU now: kept through a refused or failed load until the old model is dropped. */
  loaded: LoadedInfo | null;
}

export const initialLoad: LoadState = {
  status: 'idle',
  name: null,
  residency: null,
  phase: null,
  item: '',
  bytesDone: 0,
  bytesTotal: 0,
  elapsedMs: 0,
  etaMs: null,
  loaded: null,
  ...JOB_IDLE,
};

/** The state right after Load is pressed: the model on the GPU stays until the worker drops it. */
export function startingLoad(previous: LoadState, name: string): LoadState {
  return { ...initialLoad, status: 'loading', name, loaded: previous.loaded, memory: previous.memory };
}

export function reduceLoad(state: LoadState, event: ModelLoadEvent): LoadState {
  switch (event.type) {
    case 'started':
      // The worker drops the previous model right before it says so.
      return {
        ...state,
        status: 'loading',
        name: event.name,
        residency: event.residency,
        bytesTotal: event.bytesTotal,
        bytesDone: 0,
        loaded: null,
      };
    case 'progress':
      return {
        ...state,
        phase: event.phase,
        item: event.item,
        bytesDone: event.bytesDone,
        bytesTotal: event.bytesTotal,
        elapsedMs: event.elapsedMs,
        etaMs: event.etaMs,
      };
    case 'memory':
      return withMemory(state, event);
    case 'loaded':
      return {
        ...state,
        status: 'loaded',
        bytesDone: event.bytesUploaded,
        bytesTotal: event.bytesUploaded,
        etaMs: 0,
        elapsedMs: event.ms,
        loaded: {
          summary: event.summary,
          residency: event.residency,
          tokenizer: event.tokenizer,
          bytesUploaded: event.bytesUploaded,
          ms: event.ms,
          budgetBytes: event.budgetBytes,
        },
        cancelRequested: false,
      };
    case 'cancelled':
      return {
        ...state,
        status: 'cancelled',
        bytesDone: event.bytesDone,
        bytesTotal: event.bytesTotal,
        cancelRequested: false,
      };
    case 'error':
      return withJobError(state, event);
  }
}

/** The loaded model went away outside a job (the device was lost). */
export function droppedLoad(state: LoadState): LoadState {
  return { ...state, status: state.status === 'loaded' ? 'idle' : state.status, loaded: null };
}

export interface EvalPoint {
  window: number;
  windowPpl: number;
  runningPpl: number;
}

export interface EvalState extends JobCommon {
  status: 'idle' | 'preparing' | 'running' | 'finished' | 'cancelled' | 'error';
  text: EvalText | null;
  label: string;
  seqLen: number;
  done: number;
  total: number;
  tokensInText: number;
  points: EvalPoint[];
  runningPpl: number | null;
  tokensPerSecond: number | null;
  elapsedMs: number;
  etaMs: number | null;
  result: EvalResult | null;
  error: JobError | null;
  memory: { liveBytes: number; peakBytes: number } | null;
  cancelRequested: boolean;
  /** What ran out of memory, when the windows were scored again one per pass. */
  degraded: string | null;
  /** The last lost device the evaluation continued after, and how many it has survived. */
  resumed: { attempt: number; message: string } | null;
}

export const initialEval: EvalState = {
  status: 'idle',
  text: null,
  label: '',
  seqLen: 0,
  done: 0,
  total: 0,
  tokensInText: 0,
  points: [],
  runningPpl: null,
  tokensPerSecond: null,
  elapsedMs: 0,
  etaMs: null,
  result: null,
  error: null,
  memory: null,
  cancelRequested: false,
  degraded: null,
  resumed: null,
};

export function startingEval(previous: EvalState): EvalState {
  return { ...initialEval, status: 'running', memory: previous.memory };
}

export function reduceEval(state: EvalState, event: EvalEvent): EvalState {
  switch (event.type) {
    case 'preparing':
      return { ...state, status: 'preparing', text: event.text, label: event.label };
    case 'started':
      return {
        ...state,
        status: 'running',
        text: event.text,
        label: event.label,
        seqLen: event.seqLen,
        total: event.total,
        tokensInText: event.tokensInText,
        done: 0,
        points: [],
      };
    case 'window':
      return {
        ...state,
        done: event.done,
        total: event.total,
        points: [
          ...state.points,
          { window: event.done, windowPpl: event.windowPpl, runningPpl: event.runningPpl },
        ],
        runningPpl: event.runningPpl,
        tokensPerSecond: event.tokensPerSecond,
        elapsedMs: event.elapsedMs,
        etaMs: event.etaMs,
      };
    case 'memory':
      return withMemory(state, event);
    case 'degraded':
      // The windows are scored again from the first: the curve starts over.
      return { ...state, degraded: event.message, done: 0, points: [], runningPpl: null };
    case 'resumed':
      // The finished windows stand; the next window event is the one after them.
      return {
        ...state,
        resumed: { attempt: event.attempt, message: event.message },
        done: event.done,
        points: state.points.slice(0, event.done),
      };
    case 'finished':
      return {
        ...state,
        status: 'finished',
        result: event.result,
        done: event.result.windows,
        total: event.result.windows,
        runningPpl: event.result.ppl,
        tokensPerSecond: event.result.tokensPerSecond,
        elapsedMs: event.result.ms,
        etaMs: 0,
        // The per-window values are the worker's own; the list is complete even if a window event was dropped.
        points: event.result.windowPpl.map((windowPpl, i) => ({
          window: i + 1,
          windowPpl,
          runningPpl: state.points[i]?.runningPpl ?? Number.NaN,
        })),
        cancelRequested: false,
      };
    case 'cancelled':
      return { ...state, status: 'cancelled', done: event.done, total: event.total, cancelRequested: false };
    case 'error':
      return withJobError(state, event);
  }
}
