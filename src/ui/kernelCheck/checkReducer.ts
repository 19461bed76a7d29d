// Kernel-check state as a pure function of the worker's events, so the store stays a thin shell and
// the event handling can be tested without a worker or a GPU.

import type { KernelCaseResult } from '../../kernels/suiteCase';
import type { KernelCheckEvent } from '../../worker/api';
import { JOB_IDLE, type JobCommon, withJobError, withMemory } from '../shell/jobState';

export type CheckStatus = 'idle' | 'running' | 'cancelled' | 'finished' | 'error';

export interface KernelCheckState extends JobCommon {
  status: CheckStatus;
  /** The seed of the current or last run; null before the first run starts. */
  seed: number | null;
  done: number;
  total: number;
  results: KernelCaseResult[];
  /** Wall time of a finished run. */
  ms: number | null;
}

export const initialCheck: KernelCheckState = {
  status: 'idle',
  seed: null,
  done: 0,
  total: 0,
  results: [],
  ms: null,
  ...JOB_IDLE,
};

/** The state right after Run is pressed, before the worker has answered. */
export function startingCheck(previous: KernelCheckState): KernelCheckState {
  return { ...initialCheck, status: 'running', total: previous.total, memory: previous.memory };
}

export function reduceCheck(state: KernelCheckState, event: KernelCheckEvent): KernelCheckState {
  switch (event.type) {
    case 'started':
      return { ...state, status: 'running', seed: event.seed, total: event.total, done: 0, results: [] };
    case 'result':
      return { ...state, done: event.done, total: event.total, results: [...state.results, event.result] };
    case 'memory':
      return withMemory(state, event);
    case 'finished':
      return {
        ...state,
        status: 'finished',
        results: event.results,
        done: event.results.length,
        ms: event.ms,
        cancelRequested: false,
      };
    case 'cancelled':
      return { ...state, status: 'cancelled', done: event.done, total: event.total, cancelRequested: false };
    case 'error':
      return withJobError(state, event);
  }
}

export function countPassed(results: readonly KernelCaseResult[]): number {
  return results.filter((r) => r.passed).length;
}
