// What the state of every job in the studio holds besides its own progress (loading, evaluating,
// the kernel check, pruning, training), and the worker events every job's reducer handles alike.

import type { EngineErrorKind, ErrorEvent, MemoryEvent } from '../../worker/api';

/** A job's failure as the panel shows it: what happened and what to do about it. */
export interface JobError {
  kind: EngineErrorKind;
  message: string;
  advice: string;
}

export interface JobCommon {
  error: JobError | null;
  /** The GPU memory the job's device holds, from its last memory event. */
  memory: { liveBytes: number; peakBytes: number } | null;
  /** Set by the Cancel button until the worker confirms, because the work in flight runs to its end. */
  cancelRequested: boolean;
}

/** What to do about a failure of the studio itself (a bug), rather than of the model or the GPU. */
export const BUG_ADVICE = 'Reload the page; if it happens again, please report it with your browser version.';

/** Something the studio threw that it did not expect, as a job's error. */
export function internalError(error: unknown): JobError {
  return { kind: 'internal', message: String(error), advice: BUG_ADVICE };
}

export const JOB_IDLE: JobCommon = { error: null, memory: null, cancelRequested: false };

/** The state after the job's error event: failed, with the error, and no cancel pending. */
export function withJobError<S extends JobCommon & { status: string }>(state: S, event: ErrorEvent): S {
  return {
    ...state,
    status: 'error',
    error: { kind: event.kind, message: event.message, advice: event.advice },
    cancelRequested: false,
  };
}

/** The state after a memory event. */
export function withMemory<S extends JobCommon>(state: S, event: MemoryEvent): S {
  return { ...state, memory: { liveBytes: event.liveBytes, peakBytes: event.peakBytes } };
}
