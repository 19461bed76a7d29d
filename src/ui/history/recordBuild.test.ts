import { describe, expect, it } from 'vitest';
import type { MatrixSummary, PruneEvent } from '../../prune/events';
import { objectiveSeries } from '../../prune/fistaTrace';
import { buildRunRecord, trainOutcome } from '../../run/build';
import { isTraceSeries, traceOf } from '../../run/fistaTraceSeries';
import { type MetricSeries, parseRunRecord, type RunRecord } from '../../run/record';
import type { TrainSummary } from '../../train/job';
import type { PruneJobOptions, TrainJobOptions } from '../../worker/api';
import { initialEval, reduceEval, startingEval } from '../model/modelReducers';
import { lossKey, lossRows } from '../optimizer/trainChartData';
import { initialTrainJob, type TrainJobState } from '../optimizer/trainReducer';
import { initialPruneJob, objectiveRows, reducePruneJob, startingPruneJob } from '../pruning/pruneReducer';
import { evalStarted, PLAN, smallFista24 } from '../shell/testRuns';
import {
  evalPointsOf,
  evalRecord,
  isChartedMetric,
  perplexitiesOf,
  pruneRecord,
  pruneSummaryOf,
  type RecordContext,
  trainArmsOf,
  trainRecord,
  trainTraceOf,
} from './recordBuild';

const HASH = 'ab'.repeat(32);
const context: RecordContext = {
  startedAt: new Date('2026-11-28T10:00:00.000Z'),
  finishedAt: new Date('2026-11-28T10:00:03.500Z'),
  model: { name: 'stories260K (built-in)', sha256: HASH, files: ['model.safetensors'], parameters: 260_000 },
  adapter: 'google swiftshader (fallback)',
};
const tinystories = { name: 'tinystories', sha256: 'cd'.repeat(32), bytes: 300_000 };

/** Through JSON and the format's own check, as an exported file comes back. */
const roundTrip = (value: unknown) => parseRunRecord(JSON.parse(JSON.stringify(value)));

describe('evaluation records', () => {
  const windowPpl = [12.5, 8, 10];
  let state = startingEval(initialEval);
  state = reduceEval(state, evalStarted(5000));

  it('keep the per-window NLL, and give back the chart’s points and the final perplexity', () => {
    const finished = reduceEval(state, {
      type: 'finished',
      result: {
        ppl: 10.02,
        meanNll: Math.log(10.02),
        windows: 3,
        tokensScored: 192,
        seqLen: 64,
        tokensInText: 5000,
        windowPpl,
        windowsPerPass: 3,
        text: 'tinystories',
        label: 'TinyStories',
        ms: 900,
        tokensPerSecond: 213,
      },
    });
    const record = roundTrip(
      evalRecord(context, { text: 'tinystories', seqLen: 64, maxWindows: 3 }, finished, [tinystories]),
    );
    expect(record).toMatchObject({
      kind: 'eval',
      status: 'finished',
      producer: 'studio',
      config: { text: 'tinystories', seqLen: 64, maxWindows: 3 },
      results: { ppl: 10.02, windows: 3, tokensScored: 192 },
      timings: { total: 3500, evaluation: 900 },
    });
    const points = evalPointsOf(record);
    expect(points.map((p) => p.window)).toEqual([1, 2, 3]);
    points.forEach((p, i) => {
      expect(p.windowPpl).toBeCloseTo(windowPpl[i] as number, 12);
    });
    // Windows are equally long, so the running perplexity is exp of the mean NLL so far.
    expect(points[1]?.runningPpl).toBeCloseTo(Math.sqrt(12.5 * 8), 12);
    expect(record.metrics.map((m) => m.name)).toEqual(['nll/window']);
    expect(isChartedMetric(record, record.metrics[0] as MetricSeries)).toBe(true);
  });

  it('record a cancelled run with the windows it scored and no perplexity', () => {
    let s = reduceEval(state, {
      type: 'window',
      done: 1,
      total: 3,
      windowPpl: 12.5,
      runningPpl: 12.5,
      tokensScored: 64,
      tokensPerSecond: 100,
      elapsedMs: 300,
      etaMs: 600,
    });
    s = reduceEval(s, { type: 'cancelled', done: 1, total: 3 });
    const record = roundTrip(evalRecord(context, { text: 'tinystories', seqLen: 64 }, s, [tinystories]));
    expect(record.status).toBe('cancelled');
    expect(record.results.ppl).toBeNull();
    expect(record.metrics[0]?.y).toEqual([Math.log(12.5)]);
  });

  it('carry the reason of a failed run', () => {
    const s = reduceEval(state, { type: 'error', kind: 'device-lost', message: 'Lost.', advice: 'Reload.' });
    const record = roundTrip(evalRecord(context, { text: 'tinystories', seqLen: 64 }, s, [tinystories]));
    expect(record).toMatchObject({ status: 'failed', error: 'Lost. Reload.' });
  });
});

describe('pruning records', () => {
  const options: PruneJobOptions = {
    prune: smallFista24(7),
    evaluation: { text: 'tinystories', seqLen: 64, maxWindows: 2 },
  };
  const matrix = (block: number, operator: string, relativeError: number): MatrixSummary => ({
    tensor: `layers.${block}.${operator}.weight`,
    block,
    operator,
    rows: 4,
    cols: 8,
    sparsity: 0.5,
    error: relativeError * 10,
    relativeError,
    ms: 2,
  });
  const block0 = { block: 0, ms: 20, matrices: [matrix(0, 'q', 0.1), matrix(0, 'k', 0.2)] };
  /** Operator k's λ round as the engine sends it, with its objective series. */
  const lambdaRound = (
    round: number,
    objectives: number[],
    lambda: number,
    hi: number | null,
  ): PruneEvent => ({
    type: 'lambda-round',
    block: 0,
    operator: 'k',
    round,
    lambda,
    lo: 0,
    hi,
    sparsityBeforeThreshold: 0.3,
    errorTotal: 2,
    errorRound: 1,
    best: round === 0,
    objective: objectiveSeries({ block: 0, operator: 'k', round }, objectives),
  });

  let job = startingPruneJob(initialPruneJob, 1);
  const apply = (...events: Parameters<typeof reducePruneJob>[1][]) => {
    for (const e of events) job = reducePruneJob(job, e);
  };
  apply(
    { type: 'calibrated', label: 'C4', windows: 4, seqLen: 32, tokens: 128, plan: PLAN },
    {
      type: 'prune',
      events: [
        { type: 'started', blocks: [0, 1], operatorsPerBlock: ['q', 'k'], calibrationTokens: 128 },
        lambdaRound(0, [5, 4, 3.5], 0.5, null),
        lambdaRound(1, [3, 2.5, 2.25], 0.25, 0.5),
        { type: 'operator-finished', matrix: block0.matrices[0] as MatrixSummary },
        { type: 'operator-finished', matrix: block0.matrices[1] as MatrixSummary },
        { type: 'block-finished', summary: block0 },
      ],
    },
  );

  it('keep a cancelled run’s finished blocks as its summary, and the FISTA trace as metrics', () => {
    const cancelled = reducePruneJob(job, { type: 'cancelled', stage: 'prune' });
    const record = roundTrip(pruneRecord(context, options, cancelled, [tinystories]));
    expect(record).toMatchObject({ kind: 'prune', status: 'cancelled', seed: 7 });
    expect(record.results).toMatchObject({
      sparsity: 0.5,
      operators: 2,
      blocks: 1,
      'lastOperator.name': 'k',
    });
    const summary = pruneSummaryOf(record);
    expect(summary?.blocks).toEqual([block0]);
    expect(summary?.calibrationTokens).toBe(128);

    const trace = traceOf(record);
    expect(trace).toEqual(job.fista);
    expect(trace?.rounds[0]?.hi).toBeNull();
    // Shared with the CLI's records: per-operator error and sparsity; then the trace.
    expect(record.metrics.filter((m) => !isTraceSeries(m)).map((m) => m.name)).toEqual([
      'operator/relative-error',
      'operator/sparsity',
    ]);
    expect(record.metrics.filter((m) => !isChartedMetric(record, m)).map((m) => m.name)).toEqual([
      'operator/sparsity',
    ]);
  });

  it('give the charts, from a record written and read back, the series the live run drew', () => {
    const record = roundTrip(pruneRecord(context, options, job, [tinystories]));
    const live = job.fista;
    const read = traceOf(record);
    if (!live || !read) throw new Error('the run traced operator k');
    // The engine's series, written unchanged, found again by their round tags.
    expect(read.objectives).toEqual([
      objectiveSeries({ block: 0, operator: 'k', round: 0 }, [5, 4, 3.5]),
      objectiveSeries({ block: 0, operator: 'k', round: 1 }, [3, 2.5, 2.25]),
    ]);
    expect(read.objectives).toEqual(live.objectives);
    expect(record.metrics.filter((m) => m.round)).toEqual(live.objectives);
    // What the objective chart and the λ charts are given.
    expect(objectiveRows(read.objectives)).toEqual(objectiveRows(live.objectives));
    expect(read.rounds).toEqual(live.rounds);
    expect(read).toMatchObject({ block: 0, operator: 'k' });
    // Read by tag, not by name or position: renamed and reordered, the trace is the same.
    const shuffled = {
      ...record,
      metrics: [...record.metrics]
        .reverse()
        .map((m) => (m.round ? { ...m, name: `renamed ${m.round.round}` } : m)),
    };
    expect(traceOf(shuffled)?.objectives.map((m) => m.y)).toEqual(live.objectives.map((m) => m.y));
  });

  it('read a version 1 record’s objective series, named by round, as the same trace', () => {
    const record = roundTrip(pruneRecord(context, options, job, [tinystories]));
    // As version 1 wrote it: the objectives named last-operator/objective/round-N (N from 1), untagged.
    const version1 = {
      ...record,
      version: 1,
      metrics: record.metrics.map(({ round, xUnit: _, ...m }) =>
        round ? { ...m, name: `last-operator/objective/round-${round.round + 1}` } : m,
      ),
    };
    const read = traceOf(roundTrip(version1));
    expect(read?.objectives.map((m) => m.round)).toEqual([
      { block: 0, operator: 'k', round: 0 },
      { block: 0, operator: 'k', round: 1 },
    ]);
    expect(objectiveRows(read?.objectives ?? [])).toEqual(objectiveRows(job.fista?.objectives ?? []));
    expect(read?.rounds).toEqual(job.fista?.rounds);
  });

  it('take a finished run’s summary and perplexities from the worker’s run', () => {
    const summary = {
      method: 'fista' as const,
      options: options.prune,
      blocks: [block0],
      sparsity: 0.5,
      calibrationTokens: 128,
      ms: 20,
    };
    const finished = reducePruneJob(job, {
      type: 'finished',
      heldRuns: [],
      run: {
        id: 'run-1',
        createdAt: context.finishedAt.toISOString(),
        modelName: 'stories260K (built-in)',
        summary,
        pplBefore: 9.5,
        pplAfter: 12.25,
        evalText: 'tinystories',
        seqLen: 64,
        windows: 2,
        calibrationLabel: 'C4',
        resumes: 0,
        totalMs: 3000,
        exportable: true,
      },
    });
    const record = roundTrip(pruneRecord(context, options, finished, [tinystories]));
    expect(record.results).toMatchObject({
      'pplBefore.tinystories': 9.5,
      'pplAfter.tinystories': 12.25,
      evalWindows: 2,
    });
    expect(perplexitiesOf(record)).toEqual([{ text: 'tinystories', before: 9.5, after: 12.25 }]);
    expect(record.timings).toEqual({ total: 3000, prune: 20 });
    expect(record.detail).toEqual(summary);
    expect(record.config).toEqual(options);
  });

  it('never copy a pasted calibration text into a file that may be shared', () => {
    const source = { kind: 'text' as const, text: 'A secret story.', label: 'pasted text' };
    const pasted = {
      ...options,
      prune: { ...options.prune, calibration: { ...options.prune.calibration, source } },
    };
    const record = roundTrip(pruneRecord(context, pasted, job, []));
    expect(JSON.stringify(record)).not.toContain('A secret story.');
    expect(record.config).toMatchObject({ prune: { calibration: { source: { kind: 'text', chars: 15 } } } });
  });

  it('refuse a detail that is not a pruning summary, as a hand-made record may carry', () => {
    const record = roundTrip(pruneRecord(context, options, job, []));
    expect(pruneSummaryOf({ ...record, detail: { blocks: [{ matrices: [{}] }] } })).toBeNull();
    expect(pruneSummaryOf({ ...record, detail: undefined })).toBeNull();
  });
});

describe('training records', () => {
  const options: TrainJobOptions = {
    model: { kind: 'preset', preset: 'nano', family: 'gpt2' },
    data: { kind: 'user', label: 'my notes', text: '' },
    seqLen: 32,
    batch: 2,
    steps: 2,
    warmupSteps: 0,
    decay: 'cosine',
    validationEvery: 2,
    validationWindows: 2,
    seed: 5,
    arms: [],
  };
  const arm = (id: string) => ({
    id,
    label: id,
    optimizer: id,
    train: [
      [1, 6.1],
      [2, 5.9],
    ] as [number, number][],
    validation: [
      [0, 6.2],
      [2, 6.0],
    ] as [number, number][],
    tokensPerSecond: [],
    modelMs: 10,
    optimizerMs: 2,
    lr: 1e-3,
    state: { persistent: 800, transient: 0 },
    measuredTransient: 64,
    ranks: null,
    stopped: null,
  });

  it('keep every arm’s curves, and a failed run’s error without a summary', () => {
    const failed: TrainJobState = {
      ...initialTrainJob,
      status: 'error',
      arms: [arm('adamw'), arm('adapprox')],
      elapsedMs: 1234,
      error: { kind: 'device-lost', message: 'The GPU was lost.', advice: 'Reload.' },
    };
    const record = roundTrip(trainRecord(context, options, failed, null, [tinystories]));
    expect(record).toMatchObject({ kind: 'train', status: 'failed', seed: 5, producer: 'studio' });
    expect(record.error).toBe('The GPU was lost. Reload.');
    expect(record.metrics.map((m) => m.name)).toEqual([
      'loss/adamw',
      'validation/adamw',
      'loss/adapprox',
      'validation/adapprox',
    ]);
    expect(record.metrics[1]).toEqual({ name: 'validation/adamw', x: [0, 2], y: [6.2, 6.0] });
    expect(record.results).toEqual({});
    expect(record.timings.training).toBe(1234);
    expect(record.detail).toBeUndefined();
    // Without a summary the arms are named by id and have no state bytes to chart.
    expect(trainTraceOf(record)?.map((a) => [a.id, a.label, a.state])).toEqual([
      ['adamw', 'adamw', null],
      ['adapprox', 'adapprox', null],
    ]);
  });
});

describe('a training record read back for the charts', () => {
  // As the CLI writes one (src/cli/train.ts): arms by spec, steps from 1, validation from step 0.
  const curves = [
    {
      id: 'adamw@3e-3',
      train: [
        [1, 6.21],
        [2, 6.22],
        [3, 6.18],
        [4, 6.15],
      ] as [number, number][],
      validation: [
        [0, 6.25],
        [2, 6.16],
        [4, 6.13],
      ] as [number, number][],
    },
    {
      id: 'adapprox@3e-3',
      train: [
        [1, 6.21],
        [2, 6.25],
        [3, 6.24],
        [4, 6.24],
      ] as [number, number][],
      validation: [
        [0, 6.25],
        [2, 6.24],
        [4, 6.235],
      ] as [number, number][],
    },
  ];
  const armSummary = (id: string, label: string, persistent: number) => ({
    id,
    label,
    optimizer: label,
    lr: 3e-3,
    steps: 4,
    finalTrainLoss: 6.2,
    finalValidationLoss: 6.1,
    state: { persistent, transient: 64 },
    modelMs: 600,
    optimizerMs: 40,
  });
  const summary: TrainSummary = {
    status: 'finished',
    ms: 10_000,
    arms: [
      armSummary('adamw@3e-3', 'AdamW 3e-3', 351_232),
      armSummary('adapprox@3e-3', 'Adapprox 3e-3', 236_544),
    ],
  };
  const cliRecord = (): RunRecord =>
    roundTrip(
      buildRunRecord({
        kind: 'train',
        ...context,
        status: 'finished',
        config: {},
        seed: 0,
        data: [tinystories],
        producer: 'cli',
        ...trainOutcome(curves, summary),
        timings: { total: 12_000, training: 10_000 },
        detail: summary,
      }),
    );

  it('give every arm its curves, its label and its state bytes, and chart every series once', () => {
    const record = cliRecord();
    const arms = trainTraceOf(record);
    expect(arms).toEqual([
      { ...curves[0], label: 'AdamW 3e-3', state: { persistent: 351_232 } },
      { ...curves[1], label: 'Adapprox 3e-3', state: { persistent: 236_544 } },
    ]);
    expect(record.metrics.filter((m) => !isChartedMetric(record, m))).toEqual([]);
    // The history's line: every arm's final validation loss, from the summary.
    expect(trainArmsOf(record)).toEqual([
      { id: 'adamw@3e-3', validation: 6.1 },
      { id: 'adapprox@3e-3', validation: 6.1 },
    ]);
    // The loss chart's rows: one per step any arm reported, every point there.
    const rows = lossRows(arms ?? []);
    expect(rows.map((r) => r.step)).toEqual([0, 1, 2, 3, 4]);
    expect(rows[2]).toEqual({
      step: 2,
      [lossKey('adamw@3e-3', 'train')]: 6.22,
      [lossKey('adamw@3e-3', 'val')]: 6.16,
      [lossKey('adapprox@3e-3', 'train')]: 6.25,
      [lossKey('adapprox@3e-3', 'val')]: 6.24,
    });
  });

  it('pass over what a hand-made or damaged record gets wrong, without throwing', () => {
    const series = (name: string, x: unknown[], y: unknown[]) => ({ name, x, y }) as MetricSeries;
    const record: RunRecord = {
      ...cliRecord(),
      metrics: [
        // A diverged loss (NaN, written as null) and a step that is not a number are left out.
        series('loss/a', [1, 2, 3, '4'], [5, null, 4, 3]),
        // Ragged: x and y cannot be paired, so it is not read, and is drawn on its own.
        series('validation/a', [0, 2], [6]),
        // A repeat: the first of a name counts.
        series('loss/a', [1], [9]),
        series('loss/', [1], [1]),
        series('validation/b', [0], [Number.NaN]),
        // Not a list at all (the format's parser refuses it; an in-memory record may not have been parsed).
        series('loss/c', null as unknown as unknown[], [1]),
        series('operator/sparsity', [0], [0.5]),
      ],
      detail: {
        arms: [null, 5, { id: 'a', label: 7, state: { persistent: -1 } }, { id: 'b', state: 'big' }],
      },
    };
    expect(trainTraceOf(record)).toEqual([
      {
        id: 'a',
        label: 'a',
        state: null,
        train: [
          [1, 5],
          [3, 4],
        ],
        validation: [],
      },
    ]);
    // What the loss chart did not take is left to the plain charts (an all-NaN series has nothing to draw).
    expect(record.metrics.filter((m) => !isChartedMetric(record, m)).map((m) => m.name)).toEqual([
      'validation/a',
      'loss/a',
      'loss/',
      'loss/c',
      'operator/sparsity',
    ]);
    for (const detail of [undefined, null, 'summary', { arms: 'all' }]) {
      expect(trainTraceOf({ ...record, detail })?.[0]?.label).toBe('a');
    }
    expect(trainTraceOf({ ...record, metrics: [] })).toBeNull();
    expect(trainTraceOf({ ...record, metrics: [series('loss/a', [1], [null])] })).toBeNull();
    expect(trainTraceOf({ ...record, kind: 'eval' })).toBeNull();
  });
});
