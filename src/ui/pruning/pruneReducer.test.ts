import { describe, expect, it } from 'vitest';
import type { MatrixSummary, PruneEvent } from '../../prune/events';
import { objectiveSeries } from '../../prune/fistaTrace';
import type { PruneJobEvent } from '../../worker/api';
import { PLAN } from '../shell/testRuns';
import {
  blockErrors,
  initialPruneJob,
  objectiveRows,
  pruneProgress,
  reducePruneJob,
  startingPruneJob,
  statisticsPasses,
} from './pruneReducer';

const OPS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

/** A λ round's event as the engine sends it: its scalars and its objective series. */
const lambdaRound = (block: number, operator: string, round: number, objectives: number[]): PruneEvent => ({
  type: 'lambda-round',
  block,
  operator,
  round,
  lambda: 1 / (round + 1),
  lo: 0,
  hi: null,
  sparsityBeforeThreshold: 0.2,
  errorTotal: 2,
  errorRound: 1,
  best: round === 0,
  objective: objectiveSeries({ block, operator, round }, objectives),
});

const matrix = (block: number, operator: string, error = 1, relativeError = 0.1): MatrixSummary => ({
  tensor: `layers.${block}.${operator}.weight`,
  block,
  operator,
  rows: 8,
  cols: 8,
  sparsity: 0.5,
  error,
  relativeError,
  ms: 1,
});

const engine = (...events: PruneEvent[]): PruneJobEvent => ({ type: 'prune', events });

describe('pruning job state', () => {
  it('counts statistics passes per block', () => {
    expect(statisticsPasses(true, OPS)).toBe(4);
    expect(statisticsPasses(true, ['q', 'k', 'v', 'o', 'up', 'down'])).toBe(4);
    expect(statisticsPasses(false, OPS)).toBe(1);
  });

  it('follows a run from calibration to the finished record, with a known total', () => {
    let s = startingPruneJob(initialPruneJob, 4);
    const apply = (...events: PruneJobEvent[]) => {
      for (const e of events) s = reducePruneJob(s, e);
    };
    apply(
      { type: 'calibrating', label: 'C4' },
      { type: 'calibrated', label: 'C4', windows: 4, seqLen: 32, tokens: 128, plan: PLAN },
      {
        type: 'perplexity-started',
        stage: 'before',
        text: 'tinystories',
        label: 'TinyStories',
        seqLen: 64,
        total: 2,
        cached: false,
      },
      { type: 'perplexity-window', stage: 'before', text: 'tinystories', done: 1, total: 2, runningPpl: 5 },
    );
    expect(s.stage).toBe('before');
    expect(s.before).toMatchObject({ done: 1, total: 2, runningPpl: 5, ppl: null });
    apply({
      type: 'perplexity-finished',
      stage: 'before',
      text: 'tinystories',
      ppl: 4,
      windows: 2,
      cached: false,
    });
    expect(s.before?.ppl).toBe(4);

    apply(engine({ type: 'started', blocks: [0, 1], operatorsPerBlock: OPS, calibrationTokens: 128 }));
    expect(pruneProgress(s)).toEqual({ done: 0, total: 2 * (7 + 4) });
    apply(
      engine(
        { type: 'statistics', block: 0, operators: ['q', 'k', 'v'], windowsDone: 3, windowsTotal: 4 },
        { type: 'statistics', block: 0, operators: ['q', 'k', 'v'], windowsDone: 4, windowsTotal: 4 },
        { type: 'operator-started', block: 0, operator: 'q', rows: 8, cols: 8, lipschitz: 2 },
        lambdaRound(0, 'q', 0, [9, 7]),
        lambdaRound(0, 'q', 1, [8]),
        { type: 'operator-finished', matrix: matrix(0, 'q') },
      ),
    );
    expect(s.stage).toBe('prune');
    expect(s.current).toMatchObject({ operator: 'q', lipschitz: 2 });
    // Each round's series is kept as it arrived, in order, with its scalars.
    expect(s.fista?.objectives).toEqual([
      objectiveSeries({ block: 0, operator: 'q', round: 0 }, [9, 7]),
      objectiveSeries({ block: 0, operator: 'q', round: 1 }, [8]),
    ]);
    expect(s.fista?.rounds.map((r) => r.lambda)).toEqual([1, 0.5]);
    expect(s.fista?.rounds[0]).not.toHaveProperty('objective');
    expect(pruneProgress(s)).toEqual({ done: 2, total: 22 });

    // A new operator's first round starts a new trace.
    apply(engine(lambdaRound(0, 'k', 0, [3])));
    expect(s.fista).toMatchObject({ operator: 'k', rounds: [{ round: 0 }] });
    expect(s.fista?.objectives.map((o) => o.y)).toEqual([[3]]);
    // So does a round 0 of the same operator: its search started over (a resume redoes the block).
    apply(engine(lambdaRound(0, 'k', 1, [2]), lambdaRound(0, 'k', 0, [5, 4])));
    expect(s.fista?.objectives.map((o) => o.y)).toEqual([[5, 4]]);
    expect(s.fista?.rounds).toHaveLength(1);
  });

  it('drops the work of a block that is redone after a lost device', () => {
    let s = startingPruneJob(initialPruneJob, 1);
    s = reducePruneJob(
      s,
      engine({ type: 'started', blocks: [0, 1, 2], operatorsPerBlock: ['q'], calibrationTokens: 8 }),
    );
    s = reducePruneJob(
      s,
      engine(
        { type: 'statistics', block: 0, operators: ['q'], windowsDone: 1, windowsTotal: 1 },
        { type: 'operator-finished', matrix: matrix(0, 'q') },
        { type: 'block-finished', summary: { block: 0, ms: 1, matrices: [matrix(0, 'q')] } },
        { type: 'statistics', block: 1, operators: ['q'], windowsDone: 1, windowsTotal: 1 },
        { type: 'operator-finished', matrix: matrix(1, 'q') },
      ),
    );
    expect(pruneProgress(s)).toEqual({ done: 4, total: 6 });
    s = reducePruneJob(s, {
      type: 'resumed',
      stage: 'prune',
      block: 1,
      blocksKept: 1,
      attempt: 1,
      message: 'lost',
    });
    expect(s.matrices.map((m) => m.block)).toEqual([0]);
    expect(pruneProgress(s)).toEqual({ done: 2, total: 6 });
    expect(s.resumes).toEqual([{ stage: 'prune', block: 1, attempt: 1, message: 'lost' }]);
  });

  it('ends in exactly the state the outcome says', () => {
    const running = startingPruneJob(initialPruneJob, 4);
    expect(
      reducePruneJob({ ...running, cancelRequested: true }, { type: 'cancelled', stage: 'prune' }),
    ).toMatchObject({
      status: 'cancelled',
      cancelRequested: false,
    });
    expect(
      reducePruneJob(running, {
        type: 'error',
        kind: 'range',
        message: 'M = 8 does not divide',
        advice: 'Change it.',
      }),
    ).toMatchObject({ status: 'error', error: { kind: 'range', advice: 'Change it.' } });
  });

  it('lays objectives out per iteration, and sums errors per block', () => {
    expect(
      objectiveRows([
        objectiveSeries({ block: 0, operator: 'q', round: 0 }, [5, 4]),
        { ...objectiveSeries({ block: 0, operator: 'q', round: 1 }, [6, 3]), x: [0, 2] },
      ]),
    ).toEqual([
      { iteration: 0, r0: 5, r1: 6 },
      { iteration: 1, r0: 4 },
      { iteration: 2, r1: 3 },
    ]);
    // Block 0: errors 1 and 3 over energies 10 and 10.
    expect(blockErrors([matrix(0, 'q', 1, 0.1), matrix(0, 'k', 3, 0.3), matrix(1, 'q', 2, 0.5)])).toEqual([
      { block: 0, relativeError: 0.2 },
      { block: 1, relativeError: 0.5 },
    ]);
  });
});
