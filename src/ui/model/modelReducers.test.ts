import { describe, expect, it } from 'vitest';
import type { EvalResult, ModelSummary } from '../../worker/api';
import { evalStarted } from '../shell/testRuns';
import {
  droppedLoad,
  initialEval,
  initialLoad,
  reduceEval,
  reduceLoad,
  startingEval,
  startingLoad,
} from './modelReducers';

const summary = { name: 'm' } as ModelSummary;

function loadedState() {
  let state = reduceLoad(startingLoad(initialLoad, 'm'), {
    type: 'started',
    name: 'm',
    residency: 'resident',
    bytesTotal: 100,
    verdict: 'fits',
  });
  state = reduceLoad(state, {
    type: 'loaded',
    summary,
    residency: 'resident',
    bytesUploaded: 100,
    ms: 5,
    tokenizer: 'llama2c (tok512.bin)',
    budgetBytes: 1000,
  });
  return state;
}

describe('reduceLoad', () => {
  it('follows a load from start to the model on the GPU', () => {
    let state = startingLoad(initialLoad, 'm');
    state = reduceLoad(state, {
      type: 'started',
      name: 'm',
      residency: 'streaming',
      bytesTotal: 100,
      verdict: 'fits block by block',
    });
    state = reduceLoad(state, {
      type: 'progress',
      phase: 'upload',
      bytesDone: 40,
      bytesTotal: 100,
      item: 'tok_embeddings',
      elapsedMs: 10,
      etaMs: 15,
    });
    expect(state).toMatchObject({
      status: 'loading',
      residency: 'streaming',
      bytesDone: 40,
      phase: 'upload',
      etaMs: 15,
    });
    expect(loadedState()).toMatchObject({
      status: 'loaded',
      bytesDone: 100,
      loaded: { summary, residency: 'resident' },
    });
  });

  it('keeps the loaded model through a refused load, and forgets it once the worker starts the next', () => {
    const loaded = loadedState();
    const refused = reduceLoad(startingLoad(loaded, 'big'), {
      type: 'error',
      kind: 'does-not-fit',
      message: 'too big',
      advice: 'smaller',
    });
    expect(refused).toMatchObject({ status: 'error', loaded: { summary }, error: { kind: 'does-not-fit' } });
    const started = reduceLoad(startingLoad(loaded, 'next'), {
      type: 'started',
      name: 'next',
      residency: 'resident',
      bytesTotal: 1,
      verdict: 'fits',
    });
    expect(started.loaded).toBeNull();
  });

  it('clears a pending cancel when the worker confirms it', () => {
    const state = reduceLoad(
      { ...startingLoad(initialLoad, 'm'), cancelRequested: true },
      { type: 'cancelled', bytesDone: 3, bytesTotal: 9 },
    );
    expect(state).toMatchObject({ status: 'cancelled', cancelRequested: false, bytesDone: 3 });
  });

  it('drops the model when the device goes', () => {
    expect(droppedLoad(loadedState())).toMatchObject({ status: 'idle', loaded: null });
  });
});

describe('reduceEval', () => {
  const window = (done: number, runningPpl: number) =>
    ({
      type: 'window',
      done,
      total: 3,
      windowPpl: runningPpl + 1,
      runningPpl,
      tokensScored: done * 64,
      elapsedMs: done * 10,
      tokensPerSecond: 6400,
      etaMs: (3 - done) * 10,
    }) as const;

  it('collects a point per window, and ends with the worker’s result', () => {
    let state = startingEval(initialEval);
    state = reduceEval(state, { type: 'preparing', text: 'tinystories', label: 'TinyStories' });
    expect(state.status).toBe('preparing');
    state = reduceEval(state, evalStarted(1000));
    state = reduceEval(state, window(1, 5));
    state = reduceEval(state, window(2, 4.5));
    expect(state.points).toEqual([
      { window: 1, windowPpl: 6, runningPpl: 5 },
      { window: 2, windowPpl: 5.5, runningPpl: 4.5 },
    ]);
    expect(state).toMatchObject({ status: 'running', done: 2, runningPpl: 4.5, etaMs: 10 });
    const result = {
      ppl: 4.4,
      windows: 3,
      tokensScored: 192,
      seqLen: 64,
      ms: 30,
      tokensPerSecond: 6400,
      windowPpl: [6, 5.5, 4],
    } as EvalResult;
    state = reduceEval(state, { type: 'finished', result });
    expect(state).toMatchObject({ status: 'finished', result, done: 3, runningPpl: 4.4 });
  });

  it('starts the curve over when the windows are scored again after running out of memory', () => {
    let state = reduceEval(startingEval(initialEval), window(1, 5));
    state = reduceEval(state, window(2, 4.5));
    state = reduceEval(state, { type: 'degraded', message: 'GPU out of memory while allocating "x"' });
    expect(state).toMatchObject({
      status: 'running',
      degraded: 'GPU out of memory while allocating "x"',
      done: 0,
      points: [],
      runningPpl: null,
    });
    state = reduceEval(state, window(1, 5));
    expect(state.points).toEqual([{ window: 1, windowPpl: 6, runningPpl: 5 }]);
    // The next evaluation starts without the notice.
    expect(startingEval(state).degraded).toBeNull();
  });

  it('keeps the finished windows when the evaluation continues on a new device, and says so', () => {
    let state = reduceEval(startingEval(initialEval), window(1, 5));
    state = reduceEval(state, window(2, 4.5));
    state = reduceEval(state, { type: 'resumed', done: 2, attempt: 1, message: 'device destroyed' });
    expect(state).toMatchObject({
      status: 'running',
      resumed: { attempt: 1, message: 'device destroyed' },
      done: 2,
      runningPpl: 4.5,
    });
    expect(state.points.map((p) => p.window)).toEqual([1, 2]);
    state = reduceEval(state, window(3, 4.2));
    expect(state.points.map((p) => p.window)).toEqual([1, 2, 3]);
    // The next evaluation starts without the notice.
    expect(startingEval(state).resumed).toBeNull();
  });

  it('keeps the windows so far when cancelled, and records errors with advice', () => {
    let state = reduceEval(startingEval(initialEval), window(1, 5));
    state = reduceEval({ ...state, cancelRequested: true }, { type: 'cancelled', done: 1, total: 3 });
    expect(state).toMatchObject({ status: 'cancelled', done: 1, cancelRequested: false });
    expect(state.points).toHaveLength(1);
    const failed = reduceEval(startingEval(state), {
      type: 'error',
      kind: 'no-model',
      message: 'none',
      advice: 'load',
    });
    expect(failed).toMatchObject({
      status: 'error',
      error: { kind: 'no-model', advice: 'load' },
      points: [],
    });
  });
});
