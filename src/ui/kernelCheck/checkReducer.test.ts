import { describe, expect, it } from 'vitest';
import type { KernelCaseResult } from '../../kernels/suiteCase';
import { initialCheck, reduceCheck, startingCheck } from './checkReducer';

function result(name: string, passed: boolean): KernelCaseResult {
  return {
    name,
    family: 'matmul',
    shape: '1×1',
    seed: 1,
    passed,
    error: 0,
    bound: 1,
    ms: 1,
    flops: 2,
    bytes: 12,
    gflops: 0.002,
    gbps: 0.012,
  };
}

describe('reduceCheck', () => {
  it('follows a run from start to finish', () => {
    let state = startingCheck(initialCheck);
    expect(state.status).toBe('running');
    state = reduceCheck(state, { type: 'started', total: 2, seed: 7 });
    state = reduceCheck(state, { type: 'result', done: 1, total: 2, result: result('a', true) });
    expect(state).toMatchObject({ status: 'running', done: 1, total: 2, seed: 7 });
    const results = [result('a', true), result('b', false)];
    state = reduceCheck(state, { type: 'finished', results, passed: 1, failed: 1, ms: 5 });
    expect(state).toMatchObject({ status: 'finished', done: 2, ms: 5, results });
  });

  it('keeps the results so far when cancelled, and clears the pending cancel', () => {
    let state = reduceCheck(startingCheck(initialCheck), { type: 'started', total: 3, seed: 1 });
    state = reduceCheck(state, { type: 'result', done: 1, total: 3, result: result('a', true) });
    state = { ...state, cancelRequested: true };
    state = reduceCheck(state, { type: 'cancelled', done: 1, total: 3 });
    expect(state).toMatchObject({ status: 'cancelled', done: 1, total: 3, cancelRequested: false });
    expect(state.results).toHaveLength(1);
  });

  it('records an error with its advice', () => {
    const state = reduceCheck(startingCheck(initialCheck), {
      type: 'error',
      kind: 'device-lost',
      message: 'lost',
      advice: 'retry',
    });
    expect(state.status).toBe('error');
    expect(state.error).toEqual({ kind: 'device-lost', message: 'lost', advice: 'retry' });
  });

  it('starts a new run from a clean slate but keeps the last memory reading', () => {
    const finished = {
      ...initialCheck,
      status: 'finished' as const,
      results: [result('a', true)],
      total: 1,
      memory: { liveBytes: 1, peakBytes: 2 },
    };
    const state = startingCheck(finished);
    expect(state).toMatchObject({
      status: 'running',
      results: [],
      done: 0,
      total: 1,
      memory: finished.memory,
    });
  });
});
