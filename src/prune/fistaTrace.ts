// FISTAPruner's trace of one operator as finished series: each λ round's objective leaves the
// engine as one Series (thinned here, at the source, to FISTA_OBJECTIVE_POINTS), and whoever shows
// or records the trace (the studio's reducer, the CLI's record) folds the rounds into a FistaTrace
// with the same function, so both hosts keep the same series.

import { type Series, type SeriesRound, thinSeries } from '../series/series';
import type { LambdaRound, PruneEvent } from './events';

/**
 * The most points a round's objective series keeps: every objective of a round of up to 100
 * iterations (K + 1 with the start), else the first, every ⌈K / 100⌉-th after it and the last.
 */
export const FISTA_OBJECTIVE_POINTS = 101;

/** The name of a round's objective series (round from 0, named from 1 as the charts label it). */
export function objectiveSeriesName(round: number): string {
  return `fista/objective/round-${round + 1}`;
}

/**
 * F(W_k) for k = 0 … K of one λ round (fistaSolve's objectives, F(W₀) first) as the series the
 * engine emits: x the iteration, thinned to FISTA_OBJECTIVE_POINTS, tagged with its round.
 */
export function objectiveSeries(at: SeriesRound, objectives: readonly number[]): Series {
  return thinSeries(
    {
      name: objectiveSeriesName(at.round),
      xUnit: 'iteration',
      x: objectives.map((_, k) => k),
      y: [...objectives],
      round: { ...at },
    },
    FISTA_OBJECTIVE_POINTS,
  );
}

/** One operator's λ search as far as it went: a series and the scalars per round, in round order. */
export interface FistaTrace {
  block: number;
  operator: string;
  /** Each round's objective series as the engine emitted it. */
  objectives: Series[];
  rounds: LambdaRound[];
}

export type LambdaRoundEvent = Extract<PruneEvent, { type: 'lambda-round' }>;

/**
 * The trace with one more round. A round of another operator, or a round 0 (an operator's search
 * starting, or starting over after a resume), begins a new trace.
 */
export function traceWithRound(trace: FistaTrace | null, event: LambdaRoundEvent): FistaTrace {
  const { type: _, block, operator, objective, ...round } = event;
  const same = trace && trace.block === block && trace.operator === operator && round.round > 0;
  const base: FistaTrace = same ? trace : { block, operator, objectives: [], rounds: [] };
  return { ...base, objectives: [...base.objectives, objective], rounds: [...base.rounds, round] };
}
