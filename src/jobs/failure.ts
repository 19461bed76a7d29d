// A job's failure as a value: what went wrong, of which kind, and what a person can do about it.
// Hosts pass it on as it is (the worker through structured cloning, where a thrown error would lose
// its class and its advice; the CLI as its error line and exit code).

import { GpuError, type GpuErrorKind } from '../gpu/errors';

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

/** The event that ends any job with a failure. */
export type ErrorEvent = { type: 'error'; kind: EngineErrorKind; message: string; advice: string };

/** A failure value as the event that ends a job. */
export function failureEvent({ kind, message, advice }: Omit<EngineFailure, 'ok'>): ErrorEvent {
  return { type: 'error', kind, message, advice };
}

/** Live and peak bytes from the buffer ledger, sent at most every few hundred milliseconds. */
export interface MemoryEvent {
  type: 'memory';
  liveBytes: number;
  peakBytes: number;
}

const BUG_ADVICE = 'This is a bug in Compression Studio; please report it with the capability report.';

/** Anything thrown inside the engine as a value; only GpuError knows what a person can do, anything else is our bug. */
export function toFailure(error: unknown): EngineFailure {
  if (error instanceof GpuError) {
    return { ok: false, kind: error.kind, message: error.message, advice: error.advice };
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { ok: false, kind: 'internal', message, advice: BUG_ADVICE };
}

/** A failure value thrown again, for a host whose callers take errors (the CLI): it keeps the kind and the advice. */
export class JobFailedError extends Error {
  override name = 'JobFailedError';
  readonly kind: EngineErrorKind;
  readonly advice: string;
  constructor(failure: Pick<EngineFailure, 'kind' | 'message' | 'advice'>) {
    super(failure.message);
    this.kind = failure.kind;
    this.advice = failure.advice;
  }
}
