// The contract between the UI thread and the engine worker. It holds types only, so the UI can
// import it without pulling engine code (and the GPU) onto the main thread. Failures cross the
// boundary as values: a thrown error loses its class and its advice in structured cloning.

import type { CapabilityReport } from '../gpu/device';
import type { GpuErrorKind } from '../gpu/errors';
import type { KernelCaseResult } from '../kernels/suite';

/** GPU failures, plus 'busy' (a job is already running) and 'internal' (a bug, not the GPU). */
export type EngineErrorKind = GpuErrorKind | 'busy' | 'internal';

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

/** What the worker exposes through comlink. Every method resolves; none rejects on GPU failure. */
export interface EngineApi {
  capability(): Promise<CapabilityResult>;
  /** onEvent must be wrapped in comlink's proxy() by the caller. */
  runKernelCheck(
    options: KernelCheckOptions,
    onEvent: (event: KernelCheckEvent) => void,
  ): Promise<KernelCheckOutcome>;
  /** Stops the running check after the case in flight; a no-op when nothing runs. */
  cancel(): Promise<void>;
}
