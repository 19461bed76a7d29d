// Run records (src/run/record.ts) made from what the studio's stores hold when a job ends, and the
// other way round: the chart inputs read back out of a record, whoever wrote it. The assembly,
// the shared series and results (nll/window, operator/*, pplBefore.<text>, …) come from
// src/run/build.ts, as the CLI's do, so a record charts the same from either host. Both add the λ
// search and FISTA objective series of the last operator solved (src/run/fistaTraceSeries.ts), which
// the live charts draw: the studio writes the series its reducer kept, unchanged.
// Pure, so the mapping is tested without a page.

import type { PruneSummary } from '../../prune/events';
import {
  buildRunRecord,
  counterResults,
  nllPerWindow,
  operatorSeries,
  pruneConfig,
  pruneResults,
  SERIES,
  TRAIN_SERIES,
  trainOutcome,
} from '../../run/build';
import { isTraceSeries, traceResults, traceSeries } from '../../run/fistaTraceSeries';
import type { DataIdentity, MetricSeries, ModelIdentity, RunRecord } from '../../run/record';
import type { EvalOptions, PruneJobOptions, TrainJobOptions, TrainRun } from '../../worker/api';
import type { EvalPoint, EvalState } from '../model/modelReducers';
import type { ArmState, LossCurves } from '../optimizer/trainChartData';
import type { TrainJobState } from '../optimizer/trainReducer';
import type { PruneJobState } from '../pruning/pruneReducer';
import type { JobError } from '../shell/jobState';

/** What every record of this studio shares: when, on what, where. */
export interface RecordContext {
  startedAt: Date;
  finishedAt: Date;
  model: ModelIdentity;
  adapter: string;
}

type JobEnd = RunRecord['status'];

const end = (status: string): JobEnd =>
  status === 'finished' ? 'finished' : status === 'cancelled' ? 'cancelled' : 'failed';

const failure = (status: JobEnd, error: JobError | null) =>
  status === 'failed' && error ? `${error.message} ${error.advice}`.trim() : undefined;

// ---------------------------------------------------------------------------------------------
// Training

/**
 * A training run's record: every arm's loss and validation curve, its final losses and state
 * bytes (src/run/build.ts trainOutcome, as the CLI's), the kept run's summary as the detail. A run
 * that failed before any arm was kept has no summary and records its curves so far.
 */
export function trainRecord(
  context: RecordContext,
  options: TrainJobOptions,
  state: TrainJobState,
  run: TrainRun | null,
  data: DataIdentity[],
): RunRecord {
  const status = end(state.status);
  return buildRunRecord({
    kind: 'train',
    ...context,
    status,
    config: { ...options },
    seed: options.seed,
    data,
    producer: 'studio',
    ...trainOutcome(state.arms, run?.summary ?? null),
    timings: { total: context.finishedAt.getTime() - context.startedAt.getTime(), training: state.elapsedMs },
    ...(run ? { detail: run.summary } : {}),
    error: failure(status, state.error),
  });
}

/** One arm of a training record, as the live run's loss and state-bytes charts read it. */
export type RecordArm = LossCurves & ArmState;

/**
 * Which arm's curve a series is (loss/<arm> or validation/<arm> of trainOutcome), or null for
 * another series and for one whose x and y differ in length: its points cannot be paired.
 */
function trainCurve(series: MetricSeries): { arm: string; kind: 'train' | 'validation' } | null {
  const { name, x, y } = series;
  if (typeof name !== 'string' || !Array.isArray(x) || !Array.isArray(y) || x.length !== y.length)
    return null;
  for (const [kind, prefix] of [
    ['train', TRAIN_SERIES.loss],
    ['validation', TRAIN_SERIES.validation],
  ] as const) {
    if (name.startsWith(prefix) && name.length > prefix.length)
      return { arm: name.slice(prefix.length), kind };
  }
  return null;
}

/** [step, loss] pairs, less any point that is not two finite numbers (JSON writes a NaN loss as null). */
function curvePoints(series: MetricSeries): [number, number][] {
  const points: [number, number][] = [];
  series.x.forEach((step, i) => {
    const loss = series.y[i];
    if (Number.isFinite(step) && Number.isFinite(loss)) points.push([step, loss as number]);
  });
  return points;
}

/** Label and persistent state bytes per arm id, when the detail is the engine's TrainSummary. */
function summaryArms(detail: unknown): Map<string, Omit<ArmState, 'id'>> {
  const arms = (detail as { arms?: unknown } | null | undefined)?.arms;
  const out = new Map<string, Omit<ArmState, 'id'>>();
  if (!Array.isArray(arms)) return out;
  for (const a of arms as { id?: unknown; label?: unknown; state?: { persistent?: unknown } }[]) {
    if (typeof a?.id !== 'string') continue;
    const persistent = a.state?.persistent;
    out.set(a.id, {
      label: typeof a.label === 'string' ? a.label : a.id,
      state:
        typeof persistent === 'number' && Number.isFinite(persistent) && persistent >= 0
          ? { persistent }
          : null,
    });
  }
  return out;
}

/**
 * A training record's arms for the charts a live run draws: each arm's training and validation
 * curves from its series, in the order the record lists them, labelled and with its state bytes
 * from the detail when that is a TrainSummary (else named by id, without bytes). Records come from
 * files, so each part is checked: a series whose x and y differ in length, a point that is not two
 * finite numbers, a repeat of a series name (the first counts) and a detail of another shape are
 * passed over. Null when no arm has a point to draw.
 */
export function trainTraceOf(record: RunRecord): RecordArm[] | null {
  if (record.kind !== 'train') return null;
  const summary = summaryArms(record.detail);
  const arms = new Map<string, RecordArm>();
  const seen = new Set<string>();
  for (const series of record.metrics) {
    if (seen.has(series.name)) continue;
    seen.add(series.name);
    const curve = trainCurve(series);
    if (!curve) continue;
    let arm = arms.get(curve.arm);
    if (!arm) {
      const known = summary.get(curve.arm);
      arm = {
        id: curve.arm,
        label: known?.label ?? curve.arm,
        state: known?.state ?? null,
        train: [],
        validation: [],
      };
      arms.set(curve.arm, arm);
    }
    arm[curve.kind] = curvePoints(series);
  }
  const drawn = [...arms.values()].filter((a) => a.train.length + a.validation.length > 0);
  return drawn.length > 0 ? drawn : null;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export function evalRecord(
  context: RecordContext,
  options: EvalOptions,
  state: EvalState,
  data: DataIdentity[],
): RunRecord {
  const status = end(state.status);
  const result = state.status === 'finished' ? state.result : null;
  const seqLen = state.seqLen || options.seqLen;
  // A run that stopped early keeps the windows it scored.
  const windowPpl = result?.windowPpl ?? state.points.map((p) => p.windowPpl);
  return buildRunRecord({
    kind: 'eval',
    ...context,
    status,
    config: { ...options },
    seed: null,
    data,
    producer: 'studio',
    metrics: [
      result
        ? nllPerWindow(result)
        : { name: SERIES.windowNll, x: windowPpl.map((_, i) => i + 1), y: windowPpl.map((p) => Math.log(p)) },
    ],
    results: {
      text: options.text,
      ppl: result?.ppl ?? null,
      meanNll: result?.meanNll ?? null,
      windows: windowPpl.length,
      seqLen,
      tokensScored: result?.tokensScored ?? windowPpl.length * seqLen,
      tokensInText: state.tokensInText,
      tokensPerSecond: state.tokensPerSecond,
      ...counterResults(result?.counters),
    },
    timings: {
      total: context.finishedAt.getTime() - context.startedAt.getTime(),
      evaluation: result?.ms ?? state.elapsedMs,
    },
    error: failure(status, state.error),
  });
}

/** The evaluation chart's points: perplexity per window and over the windows so far, from the NLLs. */
export function evalPointsOf(record: RunRecord): EvalPoint[] {
  const series = record.metrics.find((m) => m.name === SERIES.windowNll);
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
  const status = end(job.status);
  const run = job.status === 'finished' ? job.run : null;
  const summary = run?.summary ?? partialSummary(options, job);
  const text = options.evaluation?.text;
  const before = run?.pplBefore ?? job.before?.ppl ?? null;
  const after = run?.pplAfter ?? job.after?.ppl ?? null;
  const trace = job.fista;
  return buildRunRecord({
    kind: 'prune',
    ...context,
    status,
    // As the CLI keeps them: a pasted calibration text is named by its label and length (its bytes
    // by sha256 in data), never copied into a file that may be shared.
    config: {
      prune: pruneConfig(options.prune),
      evaluation: options.evaluation,
      ...(options.devices ? { devices: options.devices } : {}),
    },
    seed: options.prune.calibration.seed,
    data,
    producer: 'studio',
    metrics: [...operatorSeries(summary), ...(trace ? traceSeries(trace) : [])],
    results: {
      ...pruneResults(summary, {
        before: text && before !== null ? { [text]: before } : {},
        after: text && after !== null ? { [text]: after } : {},
      }),
      evalSeqLen: options.evaluation?.seqLen ?? null,
      evalWindows: run?.windows ?? job.before?.total ?? null,
      resumes: job.resumes.length,
      ...(trace ? traceResults(trace) : {}),
    },
    timings: {
      total: run?.totalMs ?? context.finishedAt.getTime() - context.startedAt.getTime(),
      prune: summary.ms,
    },
    detail: { ...summary, options: pruneConfig(summary.options) },
    error: failure(status, job.error),
  });
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

/**
 * Whether a metric is drawn by one of the dedicated charts (the rest get a plain line chart): the
 * windows' NLL, the last operator's trace, the per-operator errors when the summary is there to
 * label them, and a training run's loss and validation curves that trainTraceOf can read.
 */
export function isChartedMetric(record: RunRecord, series: MetricSeries): boolean {
  const { name } = series;
  if (name === SERIES.windowNll || isTraceSeries(series)) return true;
  // trainTraceOf reads the first series of a name; a repeat is drawn on its own.
  if (record.kind === 'train' && trainCurve(series))
    return record.metrics.find((m) => m.name === name) === series;
  return name === SERIES.relativeError && pruneSummaryOf(record) !== null;
}

/** Perplexity before and after per evaluation text (results pplBefore.<text>, pplAfter.<text>). */
export function perplexitiesOf(
  record: RunRecord,
): { text: string; before: number | null; after: number | null }[] {
  const texts = new Set<string>();
  for (const key of Object.keys(record.results)) {
    const match = /^ppl(?:Before|After)\.(.+)$/.exec(key);
    if (match?.[1]) texts.add(match[1]);
  }
  const value = (key: string) => {
    const v = record.results[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  return [...texts].map((text) => ({
    text,
    before: value(`pplBefore.${text}`),
    after: value(`pplAfter.${text}`),
  }));
}

/**
 * A prune record's summary, when its detail has the shape the charts need. Its options are as
 * pruneConfig keeps them (a pasted text by label only), which is all the charts read.
 */
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

/** A training record's arms with their final validation loss, from its results (the same from either producer). */
export function trainArmsOf(record: RunRecord): { id: string; validation: number | null }[] {
  return Object.entries(record.results).flatMap(([key, value]) => {
    const id = /^validation\/(.+)$/.exec(key)?.[1];
    return id === undefined
      ? []
      : [{ id, validation: typeof value === 'number' && Number.isFinite(value) ? value : null }];
  });
}
