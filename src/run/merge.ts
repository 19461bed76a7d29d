// One run record for a model pruned in shards: the shards' records (each a prune of some blocks)
// joined as if one run had pruned every block. Per-operator series are rebuilt from the joined
// summary; FISTA's λ and objective series are concatenated in block order, and the last shard's
// trace of its last operator is kept (the merged run's last operator); timings are summed
// (machine time, not wall time: shards may have run in parallel). The shards' perplexities are
// dropped: each measured a model with only its own blocks pruned, not the merged model.

import { sumWork, type WorkCounters } from '../gpu/meter';
import { sparsityOf } from '../prune/job';
import {
  operatorSeries,
  pruneResults,
  type RecordedPruneSummary,
  type RunRecordParts,
  SERIES,
} from './build';
import { traceOf, traceResults, traceSeries } from './fistaTraceSeries';
import type { MetricSeries, RunRecord } from './record';

export class ShardRecordError extends Error {
  override name = 'ShardRecordError';
}

/**
 * The shards' summaries joined: blocks in order, sparsity over every matrix as the engine counts it,
 * counters summed (when every shard has them).
 */
export function mergeSummaries(details: readonly RecordedPruneSummary[]): RecordedPruneSummary {
  const first = details[0];
  if (!first) throw new ShardRecordError('there are no shards to merge');
  const blocks = details.flatMap((d) => d.blocks).sort((a, b) => a.block - b.block);
  const counters = details.map((d) => d.counters);
  const { counters: _, ...rest } = first;
  return {
    ...rest,
    options: { ...first.options, blocks: blocks.map((b) => b.block) },
    blocks,
    // The same sum, in the same order, as the engine's own summary of an unsharded run.
    sparsity: sparsityOf(blocks),
    ms: details.reduce((sum, d) => sum + d.ms, 0),
    ...(counters.every((c) => c !== undefined) ? { counters: sumWork(counters as WorkCounters[]) } : {}),
  };
}

/** The detail a prune record keeps (a PruneSummary), checked enough to merge. */
export function recordedSummary(record: RunRecord, where: string): RecordedPruneSummary {
  const d = record.detail as Partial<RecordedPruneSummary> | undefined;
  if (record.kind !== 'prune' || !Array.isArray(d?.blocks) || typeof d.ms !== 'number')
    throw new ShardRecordError(`${where}: the run record is not a pruning run's (no detail.blocks)`);
  return d as RecordedPruneSummary;
}

/** The merged run's record parts; shards must be in block order. */
export function mergePruneRecords(
  shards: readonly RunRecord[],
  summary: RecordedPruneSummary,
  results: RunRecord['results'],
): RunRecordParts {
  const first = shards[0];
  if (!first) throw new ShardRecordError('there are no shards to merge');
  const trace = shards
    .map(traceOf)
    .filter((t) => t !== null)
    .at(-1);
  const timings: Record<string, number> = {};
  for (const s of shards)
    for (const [k, ms] of Object.entries(s.timings)) timings[k] = (timings[k] ?? 0) + ms;
  return {
    kind: 'prune',
    startedAt: new Date(Math.min(...shards.map((s) => Date.parse(s.startedAt)))),
    finishedAt: new Date(),
    status: 'finished',
    config: { ...first.config, blocks: summary.blocks.map((b) => b.block) },
    seed: first.seed,
    model: first.model,
    data: shards.flatMap((s) => s.data),
    adapter: [...new Set(shards.map((s) => s.adapter))].join('; '),
    producer: 'cli',
    metrics: [
      ...operatorSeries(summary),
      ...[SERIES.lambda, SERIES.objective].flatMap((name) => concatenated(shards, name)),
      ...(trace ? traceSeries(trace) : []),
    ],
    results: {
      ...pruneResults(summary, { before: {}, after: {} }),
      shards: shards.length,
      ...(trace ? traceResults(trace) : {}),
      ...results,
    },
    timings,
    detail: {
      ...summary,
      shards: shards.map((s) => ({ id: s.id, adapter: s.adapter, blocks: s.config.blocks })),
    },
  };
}

/** One series from every shard that has it, each shard's x shifted to follow the previous one's. */
function concatenated(shards: readonly RunRecord[], name: string): MetricSeries[] {
  const x: number[] = [];
  const y: number[] = [];
  let units: Pick<MetricSeries, 'xUnit' | 'unit'> = {};
  for (const s of shards) {
    const series = s.metrics.find((m) => m.name === name);
    const first = series?.x[0];
    if (!series || first === undefined) continue;
    if (x.length === 0)
      units = { ...(series.xUnit && { xUnit: series.xUnit }), ...(series.unit && { unit: series.unit }) };
    const shift = x.length ? (x[x.length - 1] as number) + 1 - first : 0;
    x.push(...series.x.map((v) => v + shift));
    y.push(...series.y);
  }
  return x.length ? [{ name, ...units, x, y }] : [];
}
