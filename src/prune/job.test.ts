import { describe, expect, it } from 'vitest';
import { sumWork, type WorkCounters } from '../gpu/meter';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { withNodeRuntime } from '../host/testRuntimes';
import { freshSeed, Random } from '../kernels/random';
import type { ModelConfig } from '../model/config';
import { GpuModel } from '../model/gpuModel';
import { referenceNll } from '../model/reference';
import { randomTensors, tinyConfig } from '../model/testModels';
import { memoryWeightSource } from '../model/weights';
import type { MatrixSummary, PruneEvent } from './events';
import { defaultPruneOptions, PruneInterruptedError, prunedWeightSource, pruneModel } from './job';
import type { PruneMethod, PruneOptions, SparsityPattern } from './options';
import { StatisticsError } from './statistics';

const TWO_FOUR: SparsityPattern = { kind: 'nm', n: 2, m: 4 };
const COUNTS = ['readbacks', 'bytesRead', 'dispatches', 'submissions', 'writes', 'bytesWritten'] as const;

function options(
  method: PruneMethod,
  pattern: SparsityPattern,
  overrides: Partial<PruneOptions> = {},
): PruneOptions {
  const o = defaultPruneOptions(method, { context: 16, parameters: 1000 });
  return { ...o, pattern, fista: { ...o.fista, iterations: 4, rounds: 2 }, ...overrides };
}

function calibration(c: ModelConfig, seed: number, windows = 6, tokens = 12): number[][] {
  const random = new Random(seed);
  return Array.from({ length: windows }, () =>
    Array.from({ length: tokens }, () => Math.floor(random.next() * c.vocabSize)),
  );
}

function zeroFraction(data: Float32Array): number {
  return data.reduce((z, v) => z + (v === 0 ? 1 : 0), 0) / data.length;
}

describe('pruning a model block by block', () => {
  let rt: GpuRuntime;
  withNodeRuntime((made) => {
    rt = made;
  });

  for (const family of ['llama', 'opt'] as const) {
    it(`FISTAPruner at 2:4 on a tiny ${family}: exact pattern, never worse than its warm start, reproducible`, async () => {
      const seed = freshSeed();
      const c = tinyConfig(family);
      const source = memoryWeightSource(c, randomTensors(c, seed), 'tiny');
      const events: PruneEvent[] = [];
      const o = options('fista', TWO_FOUR, {
        fista: { ...options('fista', TWO_FOUR).fista, warmStart: 'wanda' },
      });
      const windows = calibration(c, seed);
      const first = await pruneModel({
        rt,
        source,
        calibration: windows,
        options: o,
        emit: (e) => events.push(e),
      });
      const operators = c.activation === 'swiglu' ? 7 : 6;
      expect(first.tensors.size).toBe(c.layers * operators);
      for (const [name, data] of first.tensors) {
        const cols = data.length / (name.includes('.down.') ? c.hidden : data.length / c.ffnHidden);
        // Every group of 4 consecutive inputs keeps exactly 2.
        for (let i = 0; i < data.length; i += 4) {
          const kept = [0, 1, 2, 3].filter((j) => data[i + j] !== 0).length;
          expect(kept, `${name} group at ${i} seed ${seed} (cols ${cols})`).toBe(2);
        }
      }
      for (const block of first.summary.blocks)
        for (const m of block.matrices) {
          expect(m.sparsity).toBe(0.5);
          expect(m.sparsity).toBe(zeroFraction(first.tensors.get(m.tensor) as Float32Array));
          // Keeping the best of the rounds and the warm start: never worse than the start.
          expect(m.error, `${m.tensor} seed ${seed}`).toBeLessThanOrEqual(m.warmStartError as number);
        }
      expect(first.summary.sparsity).toBe(0.5);
      // One event per λ round, carrying the round's K + 1 objectives (the start and each iteration)
      // as one series tagged with its operator and round.
      const rounds = events.flatMap((e) => (e.type === 'lambda-round' ? [e] : []));
      expect(rounds).toHaveLength(c.layers * operators * 2);
      for (const r of rounds) {
        expect(r.objective.round).toEqual({ block: r.block, operator: r.operator, round: r.round });
        expect(r.objective.x).toEqual([0, 1, 2, 3, 4]);
        expect(r.objective.y.every(Number.isFinite), r.objective.name).toBe(true);
      }
      // The same seed and settings give the same weights, bit for bit.
      const again = await pruneModel({ rt, source, calibration: windows, options: o });
      for (const [name, data] of first.tensors) expect(again.tensors.get(name), name).toEqual(data);

      // The pruned model's perplexity is finite and matches the float64 reference on the same weights.
      const pruned = prunedWeightSource(source, first.tensors);
      const model = await GpuModel.load(rt, pruned);
      const ids = windows[0] as number[];
      const score = await model.scoreWindow(ids);
      model.destroy();
      const all = new Map<string, Float32Array>();
      for (const t of ['tok_embeddings', ...first.tensors.keys()]) all.set(t, await pruned.read(t));
      const reference = referenceNll(c, new Map([...randomTensors(c, seed), ...first.tensors]), ids);
      expect(Number.isFinite(score.nllSum)).toBe(true);
      expect(Math.abs(score.nllSum - reference.sum) / reference.sum, `seed ${seed}`).toBeLessThanOrEqual(
        1e-4,
      );
    });
  }

  for (const method of ['magnitude', 'wanda', 'sparsegpt'] as const) {
    it(`${method} at 50% unstructured reaches exactly the target`, async () => {
      const seed = freshSeed();
      const c = tinyConfig('llama');
      const source = memoryWeightSource(c, randomTensors(c, seed), 'tiny');
      const o = options(method, { kind: 'unstructured', sparsity: 0.5 });
      const { tensors, summary } = await pruneModel({
        rt,
        source,
        calibration: calibration(c, seed),
        options: o,
      });
      for (const [name, data] of tensors) {
        const rows =
          data.length /
          (name.includes('.down.') ? c.ffnHidden : name.includes('.o.') ? c.heads * c.headDim : c.hidden);
        const cols = data.length / rows;
        if (method === 'wanda') {
          // Wanda ranks per output row: each row loses exactly half.
          for (let r = 0; r < rows; r++)
            expect(zeroFraction(data.subarray(r * cols, (r + 1) * cols)), `${name} row ${r}`).toBe(0.5);
        } else {
          expect(zeroFraction(data), `${name} seed ${seed}`).toBeGreaterThanOrEqual(0.5 - 1 / data.length);
        }
      }
      expect(summary.sparsity).toBeGreaterThan(0.49);
      for (const block of summary.blocks)
        for (const m of block.matrices) expect(m.relativeError).toBeGreaterThan(0);
    });
  }

  // 12 tokens a window measure through the Gram; 2 (12 tokens in all, 2t < 3n) through the
  // kept inputs, which the passes fill at their offsets (tokenForm.ts).
  for (const tokens of [12, 2])
    it(`gives the same masks whether the calibration windows run one per pass or several (${tokens} tokens a window)`, async () => {
      const seed = freshSeed();
      const c = tinyConfig('opt');
      const source = memoryWeightSource(c, randomTensors(c, seed), 'tiny');
      const run = (windowsPerPass: number) =>
        pruneModel({
          rt,
          source,
          calibration: calibration(c, seed, 6, tokens),
          // Block 1 sees block 0's outputs, computed in passes too.
          options: options('wanda', { kind: 'unstructured', sparsity: 0.5 }, { blocks: [1] }),
          windowsPerPass,
        });
      const one = await run(1);
      // Six windows in passes of 4 and 2.
      const batched = await run(4);
      // The forward of a pass is the windows' forwards row for row; only the order in which the
      // statistics sum their rows differs, a float32 rounding that may swap two near-equal scores.
      let entries = 0;
      let differ = 0;
      for (const [name, data] of one.tensors) {
        const other = batched.tensors.get(name) as Float32Array;
        entries += data.length;
        for (let i = 0; i < data.length; i++) if ((data[i] === 0) !== (other[i] === 0)) differ++;
      }
      expect(differ / entries, `seed ${seed}`).toBeLessThanOrEqual(1e-3);
      const errors = (o: typeof one) =>
        o.summary.blocks.flatMap((b) => b.matrices.map((m) => m.relativeError));
      const [a, b] = [errors(one), errors(batched)];
      for (let i = 0; i < a.length; i++)
        expect(Math.abs((a[i] as number) - (b[i] as number)), `seed ${seed}`).toBeLessThanOrEqual(
          1e-4 * (a[i] as number) + 1e-6,
        );
    });

  it('resumes after a lost device from the last finished block, with the same result', async () => {
    const seed = freshSeed();
    const c = tinyConfig('llama', { layers: 2 });
    const source = memoryWeightSource(c, randomTensors(c, seed), 'tiny');
    const o = options('fista', TWO_FOUR, {
      fista: { ...options('fista', TWO_FOUR).fista, warmStart: 'magnitude' },
    });
    const windows = calibration(c, seed, 4, 8);
    const local = await createNodeRuntime();
    const whole = await pruneModel({ rt: local, source, calibration: windows, options: o });
    let interrupted: PruneInterruptedError | undefined;
    try {
      await pruneModel({
        rt: local,
        source,
        calibration: windows,
        options: o,
        emit: (e) => {
          if (e.type === 'block-finished' && e.summary.block === 0) local.device.destroy();
        },
      });
    } catch (error) {
      interrupted = error as PruneInterruptedError;
    }
    expect(interrupted).toBeInstanceOf(PruneInterruptedError);
    const checkpoint = (interrupted as PruneInterruptedError).checkpoint;
    expect(checkpoint.blocks.map((b) => b.block)).toEqual([0]);
    expect(checkpoint.layer).toBeLessThanOrEqual(1);
    const fresh = await createNodeRuntime();
    try {
      const resumed = await pruneModel({ rt: fresh, source, calibration: windows, options: o, checkpoint });
      expect(resumed.summary.blocks.map((b) => b.block)).toEqual([0, 1]);
      for (const [name, data] of whole.tensors) expect(resumed.tensors.get(name), name).toEqual(data);
    } finally {
      fresh.destroy();
    }
  });

  it('stops at a cancel and frees what it allocated', async () => {
    const c = tinyConfig('llama');
    const source = memoryWeightSource(c, randomTensors(c, 1), 'tiny');
    const before = rt.ledger.snapshot().liveBytes;
    const controller = new AbortController();
    const run = pruneModel({
      rt,
      source,
      calibration: calibration(c, 1),
      options: options('fista', TWO_FOUR),
      signal: controller.signal,
      emit: (e) => {
        if (e.type === 'operator-finished') controller.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    rt.flush();
    expect(rt.ledger.snapshot().liveBytes).toBe(before);
  });

  it('refuses impossible settings and NaN weights with clear messages', async () => {
    const c = tinyConfig('llama');
    const tensors = randomTensors(c, 2);
    const source = memoryWeightSource(c, tensors, 'tiny');
    const run = (o: PruneOptions, s = source) =>
      pruneModel({ rt, source: s, calibration: calibration(c, 2), options: o });
    await expect(run(options('wanda', { kind: 'nm', n: 4, m: 4 }))).rejects.toThrow(/N < M/);
    await expect(run(options('wanda', { kind: 'unstructured', sparsity: 1 }))).rejects.toThrow(
      /strictly between 0 and 1/,
    );
    // hidden 12 and ffn 20: M = 8 divides neither.
    await expect(run(options('wanda', { kind: 'nm', n: 2, m: 8 }))).rejects.toThrow(/M = 8 does not divide/);
    await expect(
      pruneModel({ rt, source, calibration: [[1, 2, 3, 99]], options: options('wanda', TWO_FOUR) }),
    ).rejects.toThrow(/outside the vocabulary/);
    const poisoned = new Map(tensors);
    const q = Float32Array.from(tensors.get('layers.0.q.weight') as Float32Array);
    q[3] = Number.NaN;
    poisoned.set('layers.0.q.weight', q);
    await expect(run(options('fista', TWO_FOUR), memoryWeightSource(c, poisoned, 'tiny'))).rejects.toThrow(
      /layers\.0\.q\.weight.*NaN/,
    );
    // Finite weights whose activations overflow f32: v's output, and so o_proj's Gram, is infinite.
    const overflowing = new Map(tensors);
    overflowing.set(
      'layers.0.v.weight',
      (tensors.get('layers.0.v.weight') as Float32Array).map((v) => v * 1e25),
    );
    await expect(run(options('wanda', TWO_FOUR), memoryWeightSource(c, overflowing, 'tiny'))).rejects.toThrow(
      StatisticsError,
    );
  });

  // After the others, so that the pipelines are compiled already.
  // FISTAPruner on the first block only (its λ_max power iterations read back many times on a CPU
  // adapter); magnitude over both, untimed: gpuMs is then null throughout.
  const cases: { method: PruneMethod; blocks?: number[]; gpuTime: boolean }[] = [
    { method: 'fista', blocks: [0], gpuTime: true },
    { method: 'magnitude', gpuTime: false },
  ];
  for (const { method, blocks: only, gpuTime } of cases) {
    it(`${method} counts read-backs, bytes, dispatches, submissions, GPU and wall time per operator, block and run`, async () => {
      const seed = freshSeed();
      const c = tinyConfig('llama');
      const source = memoryWeightSource(c, randomTensors(c, seed), 'tiny');
      const windows = calibration(c, seed, 3, 11);
      const base = options(method, TWO_FOUR);
      const o = { ...base, fista: { ...base.fista, warmStart: 'magnitude' as const }, blocks: only };
      const finished: MatrixSummary[] = [];
      const collect = (e: PruneEvent) => {
        if (e.type === 'operator-finished') finished.push(e.matrix);
      };
      const { summary } = await pruneModel({
        rt,
        source,
        calibration: windows,
        options: o,
        emit: collect,
        gpuTime,
      });
      const timed = gpuTime && rt.capability.features['timestamp-query'] === true;
      // The job releases the GPU clock it held.
      expect(rt.gpuClock()).toBeNull();

      const run = summary.counters as WorkCounters;
      expect(summary.blocks).toHaveLength(only?.length ?? c.layers);
      for (const block of summary.blocks) {
        const counters = block.counters as WorkCounters;
        for (const m of block.matrices) {
          const k = m.counters as WorkCounters;
          // At least the pruned weights themselves come back; every method dispatches kernels.
          expect(k.readbacks, m.tensor).toBeGreaterThanOrEqual(1);
          expect(k.bytesRead, m.tensor).toBeGreaterThanOrEqual(4 * m.rows * m.cols);
          expect(k.dispatches, m.tensor).toBeGreaterThan(0);
          expect(k.submissions, m.tensor).toBeGreaterThanOrEqual(k.readbacks);
          expect(k.wallMs).toBeGreaterThan(0);
          if (timed) expect(k.gpuMs, m.tensor).toBeGreaterThan(0);
          else expect(k.gpuMs).toBeNull();
        }
        // The block holds its operators plus what they share (statistics, λ_max, next inputs).
        const operators = sumWork(block.matrices.map((m) => m.counters as WorkCounters));
        for (const f of COUNTS) expect(counters[f], f).toBeGreaterThanOrEqual(operators[f]);
        // The three windows fit one pass: one read-back at least, the next block's inputs.
        expect(counters.readbacks - operators.readbacks).toBeGreaterThanOrEqual(1);
        if (timed)
          expect(counters.gpuMs as number).toBeGreaterThanOrEqual((operators.gpuMs as number) - 1e-9);
      }
      // Every layer up to the last pruned one is pruned here, so the run is its blocks plus the
      // embedding of the windows (one pass: one read-back of all their embeddings).
      const blocks = sumWork(summary.blocks.map((b) => b.counters as WorkCounters));
      expect(run.readbacks - blocks.readbacks).toBe(1);
      expect(run.bytesRead - blocks.bytesRead).toBe(windows.length * 11 * c.hidden * 4);
      expect(run.dispatches).toBeGreaterThan(blocks.dispatches);
      if (timed) expect(run.gpuMs as number).toBeGreaterThanOrEqual((blocks.gpuMs as number) - 1e-9);
      else expect(run.gpuMs).toBeNull();
      // The events carry the same counters as the summary.
      expect(finished.map((m) => m.counters)).toEqual(
        summary.blocks.flatMap((b) => b.matrices.map((m) => m.counters)),
      );
    });
  }
});
