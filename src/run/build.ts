// Building run records from what the engine reports: the CLI and the studio both turn a prune or
// eval job's events and results into the same record (record.ts), so a run looks the same
// whichever host ran it. Nothing here touches files, the GPU or the DOM; identities (sha256) are
// computed by the host, which knows where the bytes are.

import type { CapabilityReport } from '../gpu/device';
import type { WorkCounters } from '../gpu/meter';
import type { PerplexityResult } from '../model/perplexity';
import type { PruneEvent, PruneSummary } from '../prune/events';
import { type FistaTrace, traceWithRound } from '../prune/fistaTrace';
import type { PruneOptions } from '../prune/options';
import { thinSeries } from '../series/series';
import type { TrainSummary } from '../train/job';
import { ENGINE_VERSION } from './engineVersion';
import { traceResults, traceSeries } from './fistaTraceSeries';
import {
  type DataIdentity,
  type MetricSeries,
  type ModelIdentity,
  RUN_RECORD_FORMAT,
  RUN_RECORD_VERSION,
  type RunKind,
  type RunRecord,
} from './record';

export interface RunRecordParts {
  kind: RunKind;
  startedAt: Date;
  finishedAt: Date;
  status: RunRecord['status'];
  config: Record<string, unknown>;
  seed: number | null;
  model: ModelIdentity;
  data: DataIdentity[];
  adapter: string;
  producer: RunRecord['producer'];
  metrics: MetricSeries[];
  results: RunRecord['results'];
  timings: RunRecord['timings'];
  detail?: unknown;
  error?: string;
}

export function buildRunRecord(parts: RunRecordParts): RunRecord {
  const { startedAt, finishedAt, detail, error, ...rest } = parts;
  return {
    format: RUN_RECORD_FORMAT,
    version: RUN_RECORD_VERSION,
    id: crypto.randomUUID(),
    ...rest,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    engineVersion: ENGINE_VERSION,
    // Data named twice (calibration and evaluation on the same text) is listed once.
    data: [...new Map(rest.data.map((d) => [`${d.name} ${d.sha256}`, d])).values()],
    ...(detail === undefined ? {} : { detail }),
    ...(error === undefined ? {} : { error }),
  };
}

/** The adapter as a record names it: 'google swiftshader SwiftShader driver 5.0.0 (fallback)'. */
export function adapterName(
  c: Pick<CapabilityReport, 'vendor' | 'architecture' | 'description' | 'isFallbackAdapter'>,
): string {
  const name = [c.vendor, c.architecture, c.description].filter(Boolean).join(' ') || 'unknown adapter';
  return c.isFallbackAdapter ? `${name} (fallback)` : name;
}

/**
 * Series names, shared with the studio's records so either host's records chart the same way.
 * x: the window from 1; the operator's position in block order (detail.blocks[*].matrices) from 0;
 * the λ round over the whole run from 1; the objective evaluation over the whole run from 0.
 */
export const SERIES = {
  windowNll: 'nll/window',
  relativeError: 'operator/relative-error',
  sparsity: 'operator/sparsity',
  lambda: 'fista/lambda',
  objective: 'fista/objective',
} as const;

/**
 * Per-operator series of its counters (MatrixSummary.counters), x as the other operator series.
 * Records written before the counters existed have none of them.
 */
export const COUNTER_SERIES = {
  readbacks: 'operator/readbacks',
  bytesRead: 'operator/bytes-read',
  dispatches: 'operator/dispatches',
  submissions: 'operator/submissions',
  gpuMs: 'operator/gpu-ms',
  wallMs: 'operator/wall-ms',
} as const satisfies Partial<Record<keyof WorkCounters, string>>;

/** The counters a record's results carry, under these names (results: 'readbacks', …). */
const COUNTER_RESULTS = ['readbacks', 'bytesRead', 'dispatches', 'submissions', 'gpuMs'] as const;

/**
 * A unit of work's counters as flat results, each named by `name` ('readbacks' →
 * 'readbacksPerStep/adamw'); nothing when there are none (a record from before the counters).
 */
export function counterResults(
  counters: WorkCounters | undefined,
  name: (field: (typeof COUNTER_RESULTS)[number]) => string = (field) => field,
): RunRecord['results'] {
  if (!counters) return {};
  return Object.fromEntries(COUNTER_RESULTS.map((field) => [name(field), counters[field]]));
}

/** Mean NLL (nats per predicted token) of each window, the series behind a perplexity. */
export function nllPerWindow(result: PerplexityResult): MetricSeries {
  return {
    name: SERIES.windowNll,
    x: result.windowPpl.map((_, i) => i + 1),
    y: result.windowPpl.map((ppl) => Math.log(ppl)),
  };
}

/** Error and sparsity per pruned operator, from a summary (so merged shards can rebuild them). */
export function operatorSeries(summary: Pick<PruneSummary, 'blocks'>): MetricSeries[] {
  const matrices = summary.blocks.flatMap((b) => b.matrices);
  const x = matrices.map((_, i) => i);
  const series: MetricSeries[] = [
    { name: SERIES.relativeError, x, y: matrices.map((m) => m.relativeError) },
    { name: SERIES.sparsity, x: [...x], y: matrices.map((m) => m.sparsity) },
  ];
  // A merge may join shards from before the counters with newer ones: null where one is missing.
  if (matrices.some((m) => m.counters))
    for (const [field, name] of Object.entries(COUNTER_SERIES) as [keyof WorkCounters, string][]) {
      const y = matrices.map((m) => m.counters?.[field] ?? null);
      // The format takes null for a value not known (no GPU time without timestamp-query).
      if (y.some((v) => v !== null)) series.push({ name, x: [...x], y: y as number[] });
    }
  return series;
}

/**
 * Collects FISTAPruner's series from a run's events, one 'lambda-round' event per λ round: λ per
 * round over the whole run, every round's objective series joined end to end (x counts the
 * objective evaluations of the whole run from 0; a large model's run is thinned again when the
 * series is taken), and the last operator's trace as the studio records it (fistaTraceSeries.ts).
 */
export class PruneSeriesCollector {
  private readonly lambda: number[] = [];
  private readonly objective = { x: [] as number[], y: [] as number[] };
  private trace: FistaTrace | null = null;

  readonly add = (event: PruneEvent): void => {
    if (event.type !== 'lambda-round') return;
    this.lambda.push(event.lambda);
    const { x, y } = this.objective;
    // A round's x runs from 0 to its last iteration, so the next round starts one past it.
    const shift = x.length ? (x[x.length - 1] as number) + 1 : 0;
    x.push(...event.objective.x.map((k) => k + shift));
    y.push(...event.objective.y);
    this.trace = traceWithRound(this.trace, event);
  };

  series(summary: PruneSummary, maxObjectivePoints = 2000): MetricSeries[] {
    const out = operatorSeries(summary);
    if (this.lambda.length)
      out.push({ name: SERIES.lambda, xUnit: 'round', x: this.lambda.map((_, i) => i + 1), y: this.lambda });
    if (this.objective.x.length) {
      const objective = { name: SERIES.objective, xUnit: 'evaluation', ...this.objective };
      out.push(thinSeries(objective, maxObjectivePoints));
    }
    if (this.trace) out.push(...traceSeries(this.trace));
    return out;
  }

  /** The results that name the traced operator (none without FISTA rounds). */
  results(): RunRecord['results'] {
    return this.trace ? traceResults(this.trace) : {};
  }
}

/** A PruneSummary as a record keeps it (detail), its options as pruneConfig gives them. */
export type RecordedPruneSummary = Omit<PruneSummary, 'options'> & { options: Record<string, unknown> };

/**
 * Prune options as a record keeps them: a user's calibration text is named by its label and length
 * (its bytes are identified by sha256 in the record's data), never copied whole into the record.
 */
export function pruneConfig(options: PruneOptions): Record<string, unknown> {
  const source = options.calibration.source;
  return {
    ...options,
    calibration: {
      ...options.calibration,
      source:
        source.kind === 'text' ? { kind: 'text', label: source.label, chars: source.text.length } : source,
    },
  };
}

/**
 * The flat results of a pruning run: overall sparsity, perplexity per text before and after, and
 * the whole run's counters.
 */
export function pruneResults(
  summary: Pick<PruneSummary, 'method' | 'sparsity' | 'calibrationTokens' | 'blocks' | 'counters'>,
  perplexity: { before: Partial<Record<string, number>>; after: Partial<Record<string, number>> },
): RunRecord['results'] {
  const results: RunRecord['results'] = {
    method: summary.method,
    sparsity: summary.sparsity,
    calibrationTokens: summary.calibrationTokens,
    blocks: summary.blocks.length,
    operators: summary.blocks.reduce((n, b) => n + b.matrices.length, 0),
    ...counterResults(summary.counters),
  };
  for (const [text, ppl] of Object.entries(perplexity.before)) results[`pplBefore.${text}`] = ppl ?? null;
  for (const [text, ppl] of Object.entries(perplexity.after)) results[`pplAfter.${text}`] = ppl ?? null;
  return results;
}

/** One arm's curves: [step, loss] pairs of the training batches and of the validations. */
export interface ArmCurves {
  id: string;
  train: [number, number][];
  validation: [number, number][];
}

/** Name prefixes of a training run's series: loss/<arm> and validation/<arm>, by the arm's id. */
export const TRAIN_SERIES = { loss: 'loss/', validation: 'validation/' } as const;

/**
 * A training run's series and results, the same from the CLI and the studio: loss/<arm> and
 * validation/<arm> per step, and per arm the final losses, the optimizer's persistent bytes and
 * the mean counters of a step and of its optimizer (readbacksPerStep/<arm>,
 * optimizerReadbacksPerStep/<arm>, …).
 */
export function trainOutcome(
  arms: readonly ArmCurves[],
  summary: TrainSummary | null,
): Pick<RunRecordParts, 'metrics' | 'results'> {
  const series = (name: string, points: [number, number][]): MetricSeries => ({
    name,
    x: points.map((p) => p[0]),
    y: points.map((p) => p[1]),
  });
  const results: RunRecord['results'] = {};
  for (const a of summary?.arms ?? []) {
    results[`validation/${a.id}`] = a.finalValidationLoss;
    results[`train/${a.id}`] = a.finalTrainLoss;
    results[`stateBytes/${a.id}`] = a.state.persistent;
    Object.assign(
      results,
      counterResults(a.countersPerStep, (field) => `${field}PerStep/${a.id}`),
      counterResults(
        a.optimizerCountersPerStep,
        (field) => `optimizer${field[0]?.toUpperCase()}${field.slice(1)}PerStep/${a.id}`,
      ),
    );
  }
  return {
    metrics: arms.flatMap((a) => [
      series(`${TRAIN_SERIES.loss}${a.id}`, a.train),
      series(`${TRAIN_SERIES.validation}${a.id}`, a.validation),
    ]),
    results,
  };
}
