import { describe, expect, it } from 'vitest';
import type { BlockSummary } from '../prune/events';
import { objectiveSeries } from '../prune/fistaTrace';
import { buildRunRecord, type RecordedPruneSummary, SERIES } from './build';
import { traceOf, traceResults, traceSeries } from './fistaTraceSeries';
import { mergePruneRecords, mergeSummaries, recordedSummary, ShardRecordError } from './merge';
import { parseRunRecord, type RunRecord } from './record';

const HASH = 'b'.repeat(64);

function block(b: number, sparsities: number[]): BlockSummary {
  return {
    block: b,
    ms: 10,
    matrices: sparsities.map((sparsity, i) => ({
      tensor: `layers.${b}.op${i}.weight`,
      block: b,
      operator: `op${i}`,
      rows: 3 + i,
      cols: 7,
      sparsity,
      error: 1,
      relativeError: b + i / 10,
      ms: 1,
    })),
  };
}

function detail(blocks: BlockSummary[]): RecordedPruneSummary {
  return {
    method: 'fista',
    options: { method: 'fista', blocks: blocks.map((b) => b.block) },
    blocks,
    sparsity: 0,
    calibrationTokens: 32,
    ms: blocks.length * 10,
  };
}

function shardRecord(blocks: BlockSummary[], startedAt: Date, lambdas: number): RunRecord {
  return buildRunRecord({
    kind: 'prune',
    startedAt,
    finishedAt: new Date(startedAt.getTime() + 1000),
    status: 'finished',
    config: { method: 'fista', blocks: blocks.map((b) => b.block) },
    seed: 0,
    model: { name: 'tiny', sha256: HASH, files: ['model.safetensors'], parameters: 1 },
    data: [{ name: 'c4', sha256: HASH, bytes: 1 }],
    adapter: `adapter ${blocks[0]?.block}`,
    producer: 'cli',
    metrics: [
      {
        name: SERIES.lambda,
        x: Array.from({ length: lambdas }, (_, i) => i + 1),
        y: Array(lambdas).fill(0.5),
      },
      { name: SERIES.objective, x: [0, 5, 9], y: [3, 2, 1] },
    ],
    results: { 'pplAfter.wikitext2': 30 },
    timings: { pruning: 100, total: 120 },
    detail: detail(blocks),
  });
}

describe('merging shard records', () => {
  it("sums sparsity over every matrix in block order, as the engine's summary does", () => {
    const blocks = [block(0, [0.5, 0.25]), block(1, [0.75]), block(2, [0.5, 0.5, 1 / 3])];
    const merged = mergeSummaries([detail([blocks[2] as BlockSummary]), detail(blocks.slice(0, 2))]);
    expect(merged.blocks.map((b) => b.block)).toEqual([0, 1, 2]);
    let zeros = 0;
    let entries = 0;
    for (const m of blocks.flatMap((b) => b.matrices)) {
      zeros += m.sparsity * m.rows * m.cols;
      entries += m.rows * m.cols;
    }
    expect(merged.sparsity).toBe(zeros / entries);
    expect(merged.options.blocks).toEqual([0, 1, 2]);
    expect(merged.ms).toBe(30);
    // Shards from before the counters: the merge claims none.
    expect('counters' in merged).toBe(false);
  });

  it("sums the shards' run counters, GPU time only where every shard has it", () => {
    const work = (readbacks: number, gpuMs: number | null) => ({
      readbacks,
      bytesRead: 8 * readbacks,
      dispatches: 3 * readbacks,
      submissions: readbacks,
      writes: 2,
      bytesWritten: 16,
      gpuMs,
      wallMs: 100,
    });
    const a = { ...detail([block(0, [0.5])]), counters: work(5, 1.25) };
    const b = { ...detail([block(1, [0.5])]), counters: work(7, 2.5) };
    expect(mergeSummaries([a, b]).counters).toEqual({
      readbacks: 12,
      bytesRead: 96,
      dispatches: 36,
      submissions: 12,
      writes: 4,
      bytesWritten: 32,
      gpuMs: 3.75,
      wallMs: 200,
    });
    expect(mergeSummaries([a, { ...b, counters: work(7, null) }]).counters?.gpuMs).toBeNull();
    // One shard without counters: the sum would undercount, so there is none.
    expect(mergeSummaries([a, detail([block(1, [0.5])])]).counters).toBeUndefined();
  });

  it('joins the records: series offset in block order, timings summed, shard perplexities dropped', () => {
    const first = shardRecord([block(0, [0.5])], new Date(5000), 2);
    const second = shardRecord([block(1, [0.5]), block(2, [0.5])], new Date(1000), 4);
    const summary = mergeSummaries([recordedSummary(first, 'a'), recordedSummary(second, 'b')]);
    const record = buildRunRecord(mergePruneRecords([first, second], summary, { outputSha256: HASH }));
    expect(parseRunRecord(JSON.parse(JSON.stringify(record)))).toEqual(record);
    const series = new Map(record.metrics.map((m) => [m.name, m]));
    expect(series.get(SERIES.lambda)?.x).toEqual([1, 2, 3, 4, 5, 6]);
    expect(series.get(SERIES.objective)?.x).toEqual([0, 5, 9, 10, 15, 19]);
    expect(series.get(SERIES.relativeError)?.y).toEqual([0, 1, 2]);
    expect(record.timings).toEqual({ pruning: 200, total: 240 });
    expect(record.startedAt).toBe(new Date(1000).toISOString());
    expect(record.adapter).toBe('adapter 0; adapter 1');
    expect(record.config.blocks).toEqual([0, 1, 2]);
    expect(record.data).toHaveLength(1);
    expect(record.results).toMatchObject({ shards: 2, outputSha256: HASH, blocks: 3 });
    expect(Object.keys(record.results).some((k) => k.startsWith('ppl'))).toBe(false);
  });

  it('refuses a record that is not a pruning run', () => {
    const record = { ...shardRecord([block(0, [0.5])], new Date(0), 1), detail: undefined };
    expect(() => recordedSummary(record, 'shard/run-record.json')).toThrow(ShardRecordError);
    expect(() => recordedSummary(record, 'shard/run-record.json')).toThrow(/shard\/run-record.json/);
  });

  it("keeps the trace of the last shard's last operator, the merged run's last", () => {
    const traced = (record: RunRecord, block: number): RunRecord => {
      const trace = {
        block,
        operator: 'down',
        objectives: [objectiveSeries({ block, operator: 'down', round: 0 }, [block + 3, block + 2])],
        rounds: [
          {
            round: 0,
            lambda: block + 0.5,
            lo: 0,
            hi: null,
            sparsityBeforeThreshold: 0.4,
            errorTotal: 2,
            errorRound: 1,
            best: true,
          },
        ],
      };
      return {
        ...record,
        metrics: [...record.metrics, ...traceSeries(trace)],
        results: { ...record.results, ...traceResults(trace) },
      };
    };
    const first = traced(shardRecord([block(0, [0.5])], new Date(0), 1), 0);
    const second = traced(shardRecord([block(1, [0.5])], new Date(0), 1), 1);
    const summary = mergeSummaries([recordedSummary(first, 'a'), recordedSummary(second, 'b')]);
    const record = parseRunRecord(
      JSON.parse(JSON.stringify(buildRunRecord(mergePruneRecords([first, second], summary, {})))),
    );
    expect(traceOf(record)).toEqual(traceOf(second));
    expect(traceOf(record)?.block).toBe(1);
    expect(record.metrics.filter((m) => m.round)).toHaveLength(1);
  });
});
