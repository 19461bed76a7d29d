// Run records (src/run/record.ts) made from what the studio's stores hold when a job ends, and the
// other way round: the chart inputs read back out of a record, whoever wrote it. Pure, so the
// mapping is tested without a page; the metric names below are the contract between the two.

import type { CapabilityReport } from '../gpu/device';
import type { LambdaRound, PruneSummary } from '../prune/events';
import {
  type DataIdentity,
  type MetricSeries,
  type ModelIdentity,
  RUN_RECORD_FORMAT,
  RUN_RECORD_VERSION,
  type RunRecord,
} from '../run/record';
import type { EvalOptions, PruneJobOptions } from '../worker/api';
import type { CheckError } from './checkReducer';
import type { EvalPoint, EvalState } from './modelReducers';
import type { FistaTrace, PruneJobState } from './pruneReducer';

/** Series names a record's metrics use; any others are drawn as plain lines. */
export const METRICS = {
  /** Per evaluation window: its mean negative log-likelihood in nats (x: window, from 1). */
  windowNll: 'nll/window',
  /** Per FISTA iteration of λ round r (1-based) of the operator traced last (x: iteration). */
  fistaObjective: (round: number) => `fista/objective/round-${round}`,
  /** Per λ round (x: round, from 1). */
  lambda: 'lambda/value',
  lambdaLo: 'lambda/lo',
  /** null while no upper bound is known. */
  lambdaHi: 'lambda/hi',
  errorTotal: 'lambda/error-total',
  errorRound: 'lambda/error-round',
  /** 1 for the round whose result was kept so far, else 0. */
  best: 'lambda/best',
  sparsityBeforeThreshold: 'lambda/sparsity-before-threshold',
} as const;

const FISTA_OBJECTIVE = /^fista\/objective\/round-(\d+)$/;

/** What every record of this studio shares: when, where, by whom. */
export interface RecordContext {
  id: string;
  startedAt: string;
  finishedAt: string;
  model: ModelIdentity;
  adapter: string;
  engineVersion: string;
}

export type JobEnd = 'finished' | 'cancelled' | 'failed';

/** 'google swiftshader (fallback)': what the adapter says of itself, as short as it allows. */
export function describeAdapter(report: CapabilityReport): string {
  const name = [report.vendor, report.architecture, report.device].filter(Boolean).join(' ') || 'unknown';
  return `${name}${report.description ? ` — ${report.description}` : ''}${report.isFallbackAdapter ? ' (fallback)' : ''}`;
}

function base(
  context: RecordContext,
  kind: RunRecord['kind'],
  status: JobEnd,
  config: Record<string, unknown>,
): Omit<RunRecord, 'seed' | 'data' | 'metrics' | 'results' | 'timings'> {
  return {
    format: RUN_RECORD_FORMAT,
    version: RUN_RECORD_VERSION,
    id: context.id,
    kind,
    startedAt: context.startedAt,
    finishedAt: context.finishedAt,
    status,
    config,
    model: context.model,
    engineVersion: context.engineVersion,
    adapter: context.adapter,
    producer: 'studio',
  };
}

const elapsed = (c: RecordContext) => Date.parse(c.finishedAt) - Date.parse(c.startedAt);

function withError(record: RunRecord, error: CheckError | null): RunRecord {
  return error ? { ...record, error: `${error.message} ${error.advice}`.trim() } : record;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export function evalRecord(
  context: RecordContext,
  options: EvalOptions,
  state: EvalState,
  data: DataIdentity[],
): RunRecord {
  const status: JobEnd =
    state.status === 'finished' ? 'finished' : state.status === 'cancelled' ? 'cancelled' : 'failed';
  const result = state.status === 'finished' ? state.result : null;
  const windowPpl = result?.windowPpl ?? state.points.map((p) => p.windowPpl);
  const record: RunRecord = {
    ...base(context, 'eval', status, { ...options }),
    seed: null,
    data,
    metrics: [
      { name: METRICS.windowNll, x: windowPpl.map((_, i) => i + 1), y: windowPpl.map((p) => Math.log(p)) },
    ],
    results: {
      text: options.text,
      ppl: result?.ppl ?? null,
      meanNll: result?.meanNll ?? null,
      windows: windowPpl.length,
      seqLen: state.seqLen || options.seqLen,
      tokensScored: result?.tokensScored ?? windowPpl.length * (state.seqLen || options.seqLen),
      tokensInText: state.tokensInText,
      tokensPerSecond: state.tokensPerSecond,
    },
    timings: { total: elapsed(context), evaluation: result?.ms ?? state.elapsedMs },
  };
  return withError(record, status === 'failed' ? state.error : null);
}

/** The evaluation chart's points: perplexity per window and over the windows so far, from the NLLs. */
export function evalPointsOf(record: RunRecord): EvalPoint[] {
  const series = record.metrics.find((m) => m.name === METRICS.windowNll);
  if (!series) return [];
  let sum = 0;
  return series.y.map((nll, i) => {
    sum += nll;
    return { window: series.x[i] ?? i + 1, windowPpl: Math.exp(nll), runningPpl: Math.exp(sum / (i + 1)) };
  });
}

// ---------------------------------------------------------------------------------------------
// Pruning

export function pruneRecord(
  context: RecordContext,
  options: PruneJobOptions,
  job: PruneJobState,
  data: DataIdentity[],
): RunRecord {
  const status: JobEnd =
    job.status === 'finished' ? 'finished' : job.status === 'cancelled' ? 'cancelled' : 'failed';
  const run = job.status === 'finished' ? job.run : null;
  const summary = run?.summary ?? partialSummary(options, job);
  const trace = job.fista;
  const record: RunRecord = {
    ...base(context, 'prune', status, { ...options }),
    seed: options.prune.calibration.seed,
    data,
    metrics: trace ? traceMetrics(trace) : [],
    results: {
      method: options.prune.method,
      sparsity: summary.sparsity,
      pplBefore: run?.pplBefore ?? job.before?.ppl ?? null,
      pplAfter: run?.pplAfter ?? job.after?.ppl ?? null,
      evalText: options.evaluation?.text ?? null,
      evalSeqLen: options.evaluation?.seqLen ?? null,
      evalWindows: run?.windows ?? job.before?.total ?? null,
      calibrationTokens: summary.calibrationTokens,
      matrices: summary.blocks.reduce((n, b) => n + b.matrices.length, 0),
      resumes: job.resumes.length,
      ...(trace ? { 'fista.block': trace.block, 'fista.operator': trace.operator } : {}),
    },
    timings: { total: run?.totalMs ?? elapsed(context), prune: summary.ms },
    detail: summary,
  };
  return withError(record, status === 'failed' ? job.error : null);
}

/** What a cancelled or failed run finished: its whole blocks, as the engine summarises a run. */
function partialSummary(options: PruneJobOptions, job: PruneJobState): PruneSummary {
  const blocks = job.blockSummaries;
  let zeros = 0;
  let entries = 0;
  for (const b of blocks) {
    for (const m of b.matrices) {
      zeros += m.sparsity * m.rows * m.cols;
      entries += m.rows * m.cols;
    }
  }
  return {
    method: options.prune.method,
    options: options.prune,
    blocks,
    sparsity: entries > 0 ? zeros / entries : 0,
    calibrationTokens: job.calibration?.tokens ?? 0,
    ms: blocks.reduce((s, b) => s + b.ms, 0),
  };
}

function traceMetrics(trace: FistaTrace): MetricSeries[] {
  const x = trace.rounds.map((r) => r.round + 1);
  const rounds = (name: string, y: (r: LambdaRound) => number | null): MetricSeries => ({
    name,
    x,
    y: trace.rounds.map(y) as number[],
  });
  return [
    ...trace.objectives.map((points, r) => ({
      name: METRICS.fistaObjective(r + 1),
      x: points.map(([iteration]) => iteration),
      y: points.map(([, objective]) => objective),
    })),
    ...(trace.rounds.length === 0
      ? []
      : [
          rounds(METRICS.lambda, (r) => r.lambda),
          rounds(METRICS.lambdaLo, (r) => r.lo),
          rounds(METRICS.lambdaHi, (r) => r.hi),
          rounds(METRICS.errorTotal, (r) => r.errorTotal),
          rounds(METRICS.errorRound, (r) => r.errorRound),
          rounds(METRICS.best, (r) => (r.best ? 1 : 0)),
          rounds(METRICS.sparsityBeforeThreshold, (r) => r.sparsityBeforeThreshold),
        ]),
  ];
}

/** The FISTA trace a record kept (the last operator it solved), or null when it has none. */
export function traceOf(record: RunRecord): FistaTrace | null {
  const byName = new Map(record.metrics.map((m) => [m.name, m]));
  const objectives: [number, number][][] = [];
  for (const m of record.metrics) {
    const round = FISTA_OBJECTIVE.exec(m.name);
    if (round) objectives[Number(round[1]) - 1] = m.x.map((x, i) => [x, m.y[i] as number]);
  }
  for (let r = 0; r < objectives.length; r++) objectives[r] ??= [];
  const lambda = byName.get(METRICS.lambda);
  const at = (name: string, i: number) => byName.get(name)?.y[i] ?? null;
  const rounds: LambdaRound[] = (lambda?.x ?? []).map((x, i) => ({
    round: x - 1,
    lambda: lambda?.y[i] as number,
    lo: at(METRICS.lambdaLo, i) ?? 0,
    hi: at(METRICS.lambdaHi, i),
    errorTotal: at(METRICS.errorTotal, i) ?? 0,
    errorRound: at(METRICS.errorRound, i) ?? 0,
    best: at(METRICS.best, i) === 1,
    sparsityBeforeThreshold: at(METRICS.sparsityBeforeThreshold, i) ?? 0,
  }));
  if (objectives.length === 0 && rounds.length === 0) return null;
  const block = record.results['fista.block'];
  const operator = record.results['fista.operator'];
  return {
    block: typeof block === 'number' ? block : 0,
    operator: typeof operator === 'string' ? operator : '?',
    objectives,
    rounds,
  };
}

/** Whether a metric is drawn by one of the dedicated charts (the rest get a plain line chart). */
export function isChartedMetric(name: string): boolean {
  return name === METRICS.windowNll || FISTA_OBJECTIVE.test(name) || name.startsWith('lambda/');
}

/** A prune record's summary, when its detail has the shape the charts need. */
export function pruneSummaryOf(record: RunRecord): PruneSummary | null {
  const d = record.detail as Partial<PruneSummary> | undefined;
  if (record.kind !== 'prune' || !d || !Array.isArray(d.blocks)) return null;
  const ok = d.blocks.every(
    (b) =>
      b &&
      Array.isArray(b.matrices) &&
      b.matrices.every((m) => typeof m?.relativeError === 'number' && typeof m.block === 'number'),
  );
  return ok ? (d as PruneSummary) : null;
}
