// FISTAPruner's trace of the last operator a run solved (src/prune/fistaTrace.ts) as a run record
// keeps it, and back: each λ round's objective series exactly as the engine emitted it (found again
// by its `round` tag), and the λ search as one series per scalar over the rounds. The studio and
// the CLI both write it with traceSeries, and the record view reads it with traceOf, so a record
// charts the same from either host.

import type { LambdaRound } from '../prune/events';
import type { FistaTrace } from '../prune/fistaTrace';
import type { MetricSeries, RunRecord } from './record';

/** The λ search's series, x the λ round from 1. */
export const TRACE = {
  lambda: 'last-operator/lambda',
  lambdaLo: 'last-operator/lambda-lo',
  /** null while no upper bound is known. */
  lambdaHi: 'last-operator/lambda-hi',
  errorTotal: 'last-operator/error-total',
  errorRound: 'last-operator/error-round',
  /** 1 for the round whose result was kept so far, else 0. */
  best: 'last-operator/best',
  sparsityBeforeThreshold: 'last-operator/sparsity-before-threshold',
} as const;

/** The results naming the traced operator, which the λ search's series do not carry themselves. */
export const TRACE_RESULTS = { block: 'lastOperator.block', operator: 'lastOperator.name' } as const;

/** The trace's series: every round's objective unchanged, then the λ search's. */
export function traceSeries(trace: FistaTrace): MetricSeries[] {
  const x = trace.rounds.map((r) => r.round + 1);
  const rounds = (name: string, y: (r: LambdaRound) => number | null): MetricSeries => ({
    name,
    xUnit: 'round',
    x: [...x],
    // The format takes null for a value not known yet (hi before the bracket closes).
    y: trace.rounds.map(y) as number[],
  });
  return [
    ...trace.objectives,
    ...(trace.rounds.length === 0
      ? []
      : [
          rounds(TRACE.lambda, (r) => r.lambda),
          rounds(TRACE.lambdaLo, (r) => r.lo),
          rounds(TRACE.lambdaHi, (r) => r.hi),
          rounds(TRACE.errorTotal, (r) => r.errorTotal),
          rounds(TRACE.errorRound, (r) => r.errorRound),
          rounds(TRACE.best, (r) => (r.best ? 1 : 0)),
          rounds(TRACE.sparsityBeforeThreshold, (r) => r.sparsityBeforeThreshold),
        ]),
  ];
}

export function traceResults(trace: FistaTrace): RunRecord['results'] {
  return { [TRACE_RESULTS.block]: trace.block, [TRACE_RESULTS.operator]: trace.operator };
}

/** Whether a series is part of a trace traceSeries writes (the record view charts these itself). */
export function isTraceSeries(series: MetricSeries): boolean {
  return series.round !== undefined || (Object.values(TRACE) as string[]).includes(series.name);
}

/**
 * The trace a record kept, or null when it has none. The objective series are those tagged with a
 * round, of the operator the last of them names (a record keeps one operator's), in round order.
 */
export function traceOf(record: RunRecord): FistaTrace | null {
  const tagged = record.metrics.filter((m) => m.round !== undefined);
  const last = tagged.at(-1)?.round;
  const objectives = last
    ? tagged
        .filter((m) => m.round?.block === last.block && m.round.operator === last.operator)
        .sort((a, b) => (a.round?.round ?? 0) - (b.round?.round ?? 0))
    : [];
  const byName = new Map(record.metrics.map((m) => [m.name, m]));
  const lambda = byName.get(TRACE.lambda);
  const at = (name: string, i: number) => byName.get(name)?.y[i] ?? null;
  const rounds: LambdaRound[] = (lambda?.x ?? []).map((x, i) => ({
    round: x - 1,
    lambda: lambda?.y[i] as number,
    lo: at(TRACE.lambdaLo, i) ?? 0,
    hi: at(TRACE.lambdaHi, i),
    errorTotal: at(TRACE.errorTotal, i) ?? 0,
    errorRound: at(TRACE.errorRound, i) ?? 0,
    best: at(TRACE.best, i) === 1,
    sparsityBeforeThreshold: at(TRACE.sparsityBeforeThreshold, i) ?? 0,
  }));
  if (objectives.length === 0 && rounds.length === 0) return null;
  const block = record.results[TRACE_RESULTS.block];
  const operator = record.results[TRACE_RESULTS.operator];
  return {
    block: last?.block ?? (typeof block === 'number' ? block : 0),
    operator: last?.operator ?? (typeof operator === 'string' ? operator : '?'),
    objectives,
    rounds,
  };
}
