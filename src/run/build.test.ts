import { describe, expect, it } from 'vitest';
import packageJson from '../../package.json?raw';
import type { WorkCounters } from '../gpu/meter';
import type { PruneEvent, PruneSummary } from '../prune/events';
import { objectiveSeries } from '../prune/fistaTrace';
import { defaultPruneOptions } from '../prune/job';
import {
  adapterName,
  buildRunRecord,
  COUNTER_SERIES,
  nllPerWindow,
  PruneSeriesCollector,
  pruneConfig,
  pruneResults,
  SERIES,
  trainOutcome,
} from './build';
import { TRACE, traceOf } from './fistaTraceSeries';
import { parseRunRecord } from './record';
import { tinyPruneRecord } from './testing';

const HASH = 'a'.repeat(64);

function summary(): PruneSummary {
  const matrix = (block: number, operator: string, sparsity: number) => ({
    tensor: `layers.${block}.${operator}.weight`,
    block,
    operator,
    rows: 4,
    cols: 8,
    sparsity,
    error: 1,
    relativeError: 0.1 * (block + 1),
    ms: 1,
  });
  return {
    method: 'fista',
    options: defaultPruneOptions('fista', { context: 16, parameters: 100 }),
    blocks: [
      { block: 0, ms: 2, matrices: [matrix(0, 'q', 0.5), matrix(0, 'k', 0.25)] },
      { block: 1, ms: 2, matrices: [matrix(1, 'q', 0.75)] },
    ],
    sparsity: 0.5,
    calibrationTokens: 64,
    ms: 4,
  };
}

describe('building run records', () => {
  it('gives a record the parser accepts, with the engine version of package.json and data listed once', () => {
    const data = { name: 'tinystories', sha256: HASH, bytes: 10 };
    const record = buildRunRecord({
      kind: 'eval',
      startedAt: new Date(0),
      finishedAt: new Date(1000),
      status: 'finished',
      config: { text: 'tinystories' },
      seed: null,
      model: { name: 'tiny', sha256: HASH, files: ['model.safetensors'], parameters: 10 },
      data: [data, { ...data }],
      adapter: 'test',
      producer: 'cli',
      metrics: [{ name: SERIES.windowNll, x: [1], y: [0.5] }],
      results: { ppl: 1.6 },
      timings: { total: 1000 },
    });
    expect(parseRunRecord(JSON.parse(JSON.stringify(record)))).toEqual(record);
    expect(record.engineVersion).toBe(JSON.parse(packageJson).version);
    expect(record.data).toEqual([data]);
    expect(record.startedAt).toBe('1970-01-01T00:00:00.000Z');
    expect('error' in record).toBe(false);
  });

  it('names the adapter by vendor, architecture and description', () => {
    const c = { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' };
    expect(adapterName({ ...c, isFallbackAdapter: true })).toBe(
      'google swiftshader SwiftShader driver 5.0.0 (fallback)',
    );
    expect(adapterName({ ...c, description: '', isFallbackAdapter: false })).toBe('google swiftshader');
  });

  it("turns a perplexity result into each window's mean NLL", () => {
    const s = nllPerWindow({
      ppl: 3,
      meanNll: Math.log(3),
      windows: 2,
      tokensScored: 8,
      seqLen: 4,
      tokensInText: 9,
      windowPpl: [2, 4.5],
      windowsPerPass: 2,
    });
    expect(s.x).toEqual([1, 2]);
    expect(s.y[0]).toBeCloseTo(Math.log(2), 15);
    expect(s.y[1]).toBeCloseTo(Math.log(4.5), 15);
  });

  /** What a λ round reports besides its number, λ and objectives: the same in every round here. */
  const round = {
    lo: 0,
    hi: null,
    sparsityBeforeThreshold: 0.4,
    errorTotal: 1,
    errorRound: 0.1,
    best: true,
  };

  it("collects per-operator series, λ over the run, the objective joined end to end and the last operator's trace", () => {
    const collector = new PruneSeriesCollector();
    const lambdaRound = (block: number, operator: string, r: number, objectives: number[]): PruneEvent => ({
      type: 'lambda-round',
      block,
      operator,
      round: r,
      lambda: 1 / (r + 1),
      ...round,
      objective: objectiveSeries({ block, operator, round: r }, objectives),
    });
    // Operator q: two rounds of K = 3 (4 objectives each); operator k: one round that stopped at 2.
    const events = [
      lambdaRound(0, 'q', 0, [10, 9, 8, 7]),
      lambdaRound(0, 'q', 1, [6, 5, 4, 3]),
      lambdaRound(0, 'k', 0, [2, 1, 0.5]),
    ];
    for (const e of events) collector.add(e);
    const series = new Map(collector.series(summary(), 10).map((s) => [s.name, s]));
    expect(series.get(SERIES.relativeError)).toEqual({
      name: SERIES.relativeError,
      x: [0, 1, 2],
      y: [0.1, 0.1, 0.2],
    });
    expect(series.get(SERIES.sparsity)?.y).toEqual([0.5, 0.25, 0.75]);
    expect(series.get(SERIES.lambda)).toEqual({
      name: SERIES.lambda,
      xUnit: 'round',
      x: [1, 2, 3],
      y: [1, 0.5, 1],
    });
    // Every objective evaluation of the run, counted from 0 across rounds and operators; thinned to 10.
    const objective = series.get(SERIES.objective);
    expect(objective?.x).toEqual([0, 2, 4, 6, 8, 10]);
    expect(objective?.y).toEqual([10, 8, 6, 4, 2, 0.5]);
    // The last operator's trace: its round's series unchanged, and the λ search by round.
    const k = (events[2] as Extract<PruneEvent, { type: 'lambda-round' }>).objective;
    expect(series.get(k.name)).toBe(k);
    expect(series.get(TRACE.lambda)).toEqual({ name: TRACE.lambda, xUnit: 'round', x: [1], y: [1] });
    expect(collector.results()).toEqual({ 'lastOperator.block': 0, 'lastOperator.name': 'k' });
  });

  it("gives the record view the CLI's trace as the engine sent it", () => {
    const collector = new PruneSeriesCollector();
    const objective = objectiveSeries({ block: 1, operator: 'down', round: 0 }, [4, 3, 2]);
    // The round as the engine reports it, and as the trace must give it back.
    const first = { round: 0, lambda: 0.5, ...round };
    collector.add({ type: 'lambda-round', block: 1, operator: 'down', ...first, objective });
    const record = tinyPruneRecord({ metrics: collector.series(summary()), results: collector.results() });
    const trace = traceOf(parseRunRecord(JSON.parse(JSON.stringify(record))));
    expect(trace).toEqual({
      block: 1,
      operator: 'down',
      objectives: [objective],
      rounds: [first],
    });
  });

  it('keeps a user calibration text out of the record, by label and length', () => {
    const options = defaultPruneOptions('wanda', { context: 16, parameters: 100 });
    options.calibration.source = { kind: 'text', text: 'a long private text', label: 'notes.txt' };
    const config = pruneConfig(options);
    expect(JSON.stringify(config)).not.toContain('private');
    expect((config.calibration as { source: unknown }).source).toEqual({
      kind: 'text',
      label: 'notes.txt',
      chars: 19,
    });
  });

  it('flattens the results, perplexity per text before and after', () => {
    expect(
      pruneResults(summary(), { before: { wikitext2: 20 }, after: { wikitext2: 25, tinystories: 5 } }),
    ).toEqual({
      method: 'fista',
      sparsity: 0.5,
      calibrationTokens: 64,
      blocks: 2,
      operators: 3,
      'pplBefore.wikitext2': 20,
      'pplAfter.wikitext2': 25,
      'pplAfter.tinystories': 5,
    });
  });

  const work = (readbacks: number, gpuMs: number | null): WorkCounters => ({
    readbacks,
    bytesRead: 4 * readbacks,
    dispatches: 10 * readbacks,
    submissions: 2 * readbacks,
    writes: 1,
    bytesWritten: 64,
    gpuMs,
    wallMs: 3 * readbacks,
  });

  it('adds the counters per operator as series and the run totals as results, when the summary has them', () => {
    const s = summary();
    const counts = [3, 5, 7];
    s.blocks
      .flatMap((b) => b.matrices)
      .forEach((m, i) => {
        m.counters = work(counts[i] as number, null);
      });
    s.counters = work(20, null);
    const series = new Map(new PruneSeriesCollector().series(s).map((m) => [m.name, m]));
    expect(series.get(COUNTER_SERIES.readbacks)).toEqual({
      name: 'operator/readbacks',
      x: [0, 1, 2],
      y: [3, 5, 7],
    });
    expect(series.get(COUNTER_SERIES.bytesRead)?.y).toEqual([12, 20, 28]);
    expect(series.get(COUNTER_SERIES.dispatches)?.y).toEqual([30, 50, 70]);
    expect(series.get(COUNTER_SERIES.submissions)?.y).toEqual([6, 10, 14]);
    expect(series.get(COUNTER_SERIES.wallMs)?.y).toEqual([9, 15, 21]);
    // No GPU time anywhere (no timestamp-query): no series of it.
    expect(series.has(COUNTER_SERIES.gpuMs)).toBe(false);
    expect(pruneResults(s, { before: {}, after: {} })).toMatchObject({
      readbacks: 20,
      bytesRead: 80,
      dispatches: 200,
      submissions: 40,
      gpuMs: null,
    });
    // A merge of a shard from before the counters with a newer one: null where they are missing.
    const [, k, q1] = s.blocks.flatMap((b) => b.matrices);
    if (!k || !q1?.counters) throw new Error('the summary has three matrices with counters');
    delete k.counters;
    q1.counters.gpuMs = 2.5;
    const mixed = new Map(new PruneSeriesCollector().series(s).map((m) => [m.name, m]));
    expect(mixed.get(COUNTER_SERIES.readbacks)?.y).toEqual([3, null, 7]);
    expect(mixed.get(COUNTER_SERIES.gpuMs)?.y).toEqual([null, null, 2.5]);
    const record = tinyPruneRecord({
      metrics: [...mixed.values()],
      results: pruneResults(s, { before: {}, after: {} }),
    });
    expect(parseRunRecord(JSON.parse(JSON.stringify(record)))).toEqual(record);
  });

  it('leaves a summary from before the counters without their series and results', () => {
    const names = new PruneSeriesCollector().series(summary()).map((m) => m.name);
    expect(names).toEqual([SERIES.relativeError, SERIES.sparsity]);
    const results = pruneResults(summary(), { before: {}, after: {} });
    for (const key of ['readbacks', 'bytesRead', 'dispatches', 'submissions', 'gpuMs'])
      expect(key in results, key).toBe(false);
  });

  it("puts each training arm's mean counters per step, and its optimizer's, in the results", () => {
    const arm = {
      id: 'adamw',
      label: 'AdamW',
      optimizer: 'AdamW',
      lr: 1e-3,
      steps: 2,
      finalTrainLoss: 5,
      finalValidationLoss: 6,
      state: { persistent: 8, transient: 0 },
      modelMs: 10,
      optimizerMs: 2,
    };
    const { results } = trainOutcome([{ id: 'adamw', train: [[1, 5]], validation: [] }], {
      status: 'finished',
      ms: 24,
      arms: [{ ...arm, countersPerStep: work(3, 1.5), optimizerCountersPerStep: work(1, 0.5) }],
    });
    expect(results).toMatchObject({
      'readbacksPerStep/adamw': 3,
      'bytesReadPerStep/adamw': 12,
      'dispatchesPerStep/adamw': 30,
      'submissionsPerStep/adamw': 6,
      'gpuMsPerStep/adamw': 1.5,
      'optimizerReadbacksPerStep/adamw': 1,
      'optimizerBytesReadPerStep/adamw': 4,
      'optimizerDispatchesPerStep/adamw': 10,
      'optimizerSubmissionsPerStep/adamw': 2,
      'optimizerGpuMsPerStep/adamw': 0.5,
    });
    // An older summary without them: the results it always had, and no more.
    const old = trainOutcome([], { status: 'finished', ms: 24, arms: [arm] }).results;
    expect(Object.keys(old)).toEqual(['validation/adamw', 'train/adamw', 'stateBytes/adamw']);
  });
});
