import { describe, expect, it } from 'vitest';
import { zeroWork } from '../../gpu/meter';
import type { RankSample, TrainEvent } from '../../train/job';
import type { TrainJobEvent, TrainRun } from '../../worker/api';
import {
  initialTrainJob,
  reduceTrainJob,
  startingTrainJob,
  type TrainJobState,
  trainEta,
  trainProgress,
} from './trainReducer';

const state = { persistent: 800, transient: 0 };

const step = (arm: string, n: number, loss: number, ranks?: RankSample[]): TrainEvent => ({
  type: 'step',
  arm,
  step: n,
  loss,
  lr: 1e-3,
  tokensPerSecond: 100 * n,
  modelMs: 10,
  optimizerMs: 5,
  state,
  measuredTransient: 64,
  counters: zeroWork(),
  optimizerCounters: zeroWork(),
  ...(ranks ? { ranks } : {}),
});

const rank = (name: string, k: number, relativeError = 0.01): RankSample => ({
  name,
  rank: k,
  relativeError,
  clampedFraction: 0,
});

const started: TrainEvent = {
  type: 'started',
  arms: [
    { id: 'adamw', label: 'AdamW', optimizer: 'AdamW' },
    { id: 'adapprox', label: 'Adapprox', optimizer: 'Adapprox' },
  ],
  steps: 4,
  tokensPerStep: 32,
  parameters: 100,
};

const train = (elapsedMs: number, ...events: TrainEvent[]): TrainJobEvent => ({
  type: 'train',
  events,
  elapsedMs,
});

function run(...events: TrainJobEvent[]): TrainJobState {
  return events.reduce(reduceTrainJob, startingTrainJob(initialTrainJob));
}

describe('training job state', () => {
  it('follows a run from preparation to the finish, with a known total and an ETA', () => {
    let s = run(
      { type: 'preparing', label: 'Tiny Shakespeare' },
      {
        type: 'prepared',
        label: 'Tiny Shakespeare',
        modelName: 'nano GPT-2 (from scratch)',
        trainTokens: 900,
        validationTokens: 100,
      },
    );
    expect(s.status).toBe('preparing');
    expect(trainProgress(s)).toEqual({ done: 0, total: 0 });
    expect(trainEta(s)).toBeNull();

    s = reduceTrainJob(
      s,
      train(
        300,
        started,
        { type: 'validation', arm: 'adamw', step: 0, loss: 6.2 },
        { type: 'validation', arm: 'adapprox', step: 0, loss: 6.2 },
        { type: 'checkpoint', step: 0 },
        step('adamw', 1, 6.1),
        step('adapprox', 1, 6.15, [rank('a', 1), rank('b', 2)]),
        step('adamw', 2, 6.0),
      ),
    );
    expect(s.status).toBe('running');
    expect(s.parameters).toBe(100);
    expect(trainProgress(s)).toEqual({ done: 3, total: 8 });
    // 300 ms for 3 arm-steps: 100 ms each, 5 left.
    expect(trainEta(s)).toBeCloseTo(500);
    const adamw = s.arms[0];
    expect(adamw?.train).toEqual([
      [1, 6.1],
      [2, 6.0],
    ]);
    expect(adamw?.validation).toEqual([[0, 6.2]]);
    expect(adamw?.modelMs).toBe(20);
    expect(adamw?.state).toEqual(state);
    expect(adamw?.ranks).toBeNull();
    expect(s.checkpointStep).toBe(0);

    s = reduceTrainJob(s, { type: 'paused', step: 2 });
    expect(s.status).toBe('paused');
    expect(trainEta(s)).not.toBeNull();
    s = reduceTrainJob(s, { type: 'continued' });
    expect(s.status).toBe('running');

    s = reduceTrainJob(s, { type: 'kept', run: { id: 'train-1' } as TrainRun, heldRuns: ['train-1'] });
    s = reduceTrainJob(s, { type: 'finished', runId: 'train-1' });
    expect(s.status).toBe('finished');
    expect(s.runId).toBe('train-1');
    expect(trainEta(s)).toBeNull();
  });

  it('lines up Adapprox ranks by matrix, also for a matrix first seen later', () => {
    const s = run(
      train(
        10,
        started,
        step('adapprox', 1, 6, [rank('a', 1, 0.2), rank('b', 2, 0.1)]),
        step('adapprox', 2, 6, [rank('b', 3), rank('a', 4), rank('c', 5)]),
      ),
    );
    const trace = s.arms[1]?.ranks;
    expect(trace?.names).toEqual(['a', 'b', 'c']);
    expect(trace?.steps).toEqual([1, 2]);
    // Rows written before a matrix appeared are shorter: its cells there read as missing.
    expect(trace?.rank).toEqual([
      [1, 2],
      [4, 3, 5],
    ]);
    expect(trace?.error[0]).toEqual([0.2, 0.1]);
    expect(trace?.last.map((r) => r.name)).toEqual(['b', 'a', 'c']);
  });

  it('takes a stopped arm’s remaining steps out of the total', () => {
    const s = run(
      train(10, started, step('adamw', 1, 6), step('adapprox', 1, 6), step('adamw', 2, 6), {
        type: 'arm-stopped',
        arm: 'adapprox',
        step: 2,
        message: 'NaN',
      }),
    );
    expect(s.arms[1]?.stopped).toEqual({ step: 2, message: 'NaN' });
    // AdamW: 2 of 4; Adapprox: 1 done and no more.
    expect(trainProgress(s)).toEqual({ done: 3, total: 5 });
  });

  it('ends in a cancel or an error with the advice, and keeps the memory of the previous run', () => {
    const before = { ...initialTrainJob, memory: { liveBytes: 1, peakBytes: 2 } };
    const starting = startingTrainJob(before);
    expect(starting.memory).toEqual({ liveBytes: 1, peakBytes: 2 });
    expect(starting.status).toBe('preparing');
    const cancelled = reduceTrainJob({ ...starting, cancelRequested: true }, { type: 'cancelled', step: 0 });
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelRequested: false });
    const failed = reduceTrainJob(
      { ...starting, pauseRequested: true },
      {
        type: 'error',
        kind: 'range',
        message: 'the learning rate must lie in (0, 1], got 5',
        advice: 'Change it.',
      },
    );
    expect(failed).toMatchObject({
      status: 'error',
      pauseRequested: false,
      error: { kind: 'range', message: 'the learning rate must lie in (0, 1], got 5', advice: 'Change it.' },
    });
    expect(reduceTrainJob(failed, { type: 'memory', liveBytes: 5, peakBytes: 9 }).memory).toEqual({
      liveBytes: 5,
      peakBytes: 9,
    });
  });

  it('rewinds every arm to the checkpoint a continued run starts from, and lists the resume', () => {
    let s = run(
      train(
        100,
        started,
        { type: 'checkpoint', step: 0 },
        step('adamw', 1, 6.1),
        step('adapprox', 1, 6.15, [rank('a', 1)]),
        step('adamw', 2, 6.0),
        step('adapprox', 2, 6.05, [rank('a', 2)]),
        { type: 'validation', arm: 'adamw', step: 2, loss: 5.9 },
        { type: 'checkpoint', step: 2 },
        step('adamw', 3, 5.8),
        step('adapprox', 3, 5.85, [rank('a', 3)]),
      ),
    );
    const degraded = reduceTrainJob(s, { type: 'degraded', step: 2, message: 'out of memory' });
    // Running out of memory rewinds the arms as a lost device does, and is noted once.
    expect(degraded.degraded).toEqual({ step: 2, message: 'out of memory' });
    expect(degraded.resumes).toEqual([]);
    expect(degraded.arms.map((a) => a.train.map(([n]) => n))).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(startingTrainJob(degraded).degraded).toBeNull();
    s = reduceTrainJob(s, { type: 'resumed', step: 2, attempt: 1, message: 'destroyed' });
    expect(s.resumes).toEqual([{ step: 2, attempt: 1, message: 'destroyed' }]);
    expect(s.arms.map((a) => a.train.map(([n]) => n))).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(s.arms[0]?.validation).toEqual([[2, 5.9]]);
    expect(s.arms[1]?.ranks?.steps).toEqual([1, 2]);
    expect(s.arms[1]?.ranks?.rank).toEqual([[1], [2]]);
    // Three steps of 10 + 5 ms were timed; the means over what was timed stay 10 and 5 ms.
    expect((s.arms[0]?.modelMs ?? 0) / (s.arms[0]?.train.length ?? 1)).toBeCloseTo(10);
    expect(trainProgress(s)).toEqual({ done: 4, total: 8 });
    // The repeated step counts once.
    s = reduceTrainJob(s, train(200, step('adamw', 3, 5.8)));
    expect(s.arms[0]?.train.map(([n]) => n)).toEqual([1, 2, 3]);
  });
});
