import { describe, expect, it } from 'vitest';
import { countersSince } from '../gpu/runtime';
import { freshSeed, Random } from '../kernels/random';
import { thinSeries } from '../series/series';
import { FistaWorkspace, fistaSolve } from './fista';
import { type Layer, largestEigenvalue64, randomLayer, tokenError64 } from './fista.reference';
import { FISTA_OBJECTIVE_POINTS, objectiveSeriesName } from './fistaTrace';
import { fistaPruneOperator, type RoundReport } from './lambdaSearch';
import { LIPSCHITZ_MARGIN, lipschitzConstant } from './lipschitz';
import type { FistaOptions, SparsityPattern } from './options';
import { sharedUploads } from './uploadsTesting';

const M = 11;
const N = 24;
const TOKENS = 70;
const OPERATOR = { block: 2, operator: 'up' };

/** The dense weights with the smallest half of each group (a row, or 4 columns) zeroed by magnitude. */
function magnitudeStart(w: Float32Array, group: number): Float32Array {
  const start = Float32Array.from(w);
  for (let r = 0; r < M; r++)
    for (let g0 = 0; g0 < N; g0 += group) {
      const idx = Array.from({ length: group }, (_, i) => r * N + g0 + i).sort(
        (a, b) => Math.abs(start[a] as number) - Math.abs(start[b] as number),
      );
      for (const i of idx.slice(0, group / 2)) start[i] = 0;
    }
  return start;
}

describe('FISTAPruner λ search on one operator', () => {
  const shared = sharedUploads();
  const up = (data: Float32Array | Float64Array) => shared.uploads.up(data);
  const problemOf = (layer: Layer) => shared.uploads.problem(layer);

  const options: FistaOptions = {
    iterations: 20,
    rounds: 3,
    xi: 0.3,
    tolerance: 0,
    warmStart: 'magnitude',
    thresholdGroup: 'row',
    errorCorrection: true,
  };
  const patterns: [string, SparsityPattern, number][] = [
    ['50% unstructured', { kind: 'unstructured', sparsity: 0.5 }, N],
    ['2:4', { kind: 'nm', n: 2, m: 4 }, 4],
  ];
  for (const [name, pattern, group] of patterns) {
    it(`prunes to exactly ${name}, never worse than its warm start, with errors the tokens confirm`, async () => {
      const seed = freshSeed();
      const layer = randomLayer(new Random(seed), M, N, TOKENS, 0.3);
      const start = magnitudeStart(layer.w, group);
      const out = await up(new Float32Array(M * N).fill(Number.NaN));
      const rounds: number[] = [];
      const result = await fistaPruneOperator(shared.rt, {
        problem: await problemOf(layer),
        dense: await up(layer.w),
        start: await up(start),
        out,
        pattern,
        options,
        lipschitz: (1 + LIPSCHITZ_MARGIN) * largestEigenvalue64(layer.lasso.g, N),
        startIsCandidate: true,
        operator: OPERATOR,
        onRound: (r) => rounds.push(r.errorTotal),
      });
      const pruned = await shared.rt.readF32(out);
      for (let r = 0; r < M; r++)
        for (let g0 = 0; g0 < N; g0 += group) {
          const kept = Array.from({ length: group }, (_, i) => pruned[r * N + g0 + i]).filter(
            (v) => v !== 0,
          ).length;
          expect(kept, `row ${r} group ${g0} seed ${seed}`).toBe(group / 2);
        }
      const warm = tokenError64(start, layer.w, layer.x, layer.xStar, M, N, TOKENS);
      const final = tokenError64(pruned, layer.w, layer.x, layer.xStar, M, N, TOKENS);
      // Statistics rounded to f32 and sums that cancel against ‖WX‖²: within 1e-4 of ‖WX‖².
      const bound = 1e-4 * layer.lasso.c0;
      expect(Math.abs(result.warmStartError - warm), `seed ${seed}`).toBeLessThanOrEqual(bound);
      expect(Math.abs(result.error - final), `seed ${seed}`).toBeLessThanOrEqual(bound);
      expect(final, `seed ${seed}`).toBeLessThanOrEqual(warm + bound);
      expect(rounds, `seed ${seed}`).toHaveLength(3);
      expect(result.error).toBe(Math.min(result.warmStartError, ...rounds));
      // The search keeps the warm start when no round beats it (seed 177062462 in CI: every 2:4
      // round came out at or above magnitude's error), so the guarantee is "never worse".
      expect(result.error, `seed ${seed}`).toBeLessThanOrEqual(result.warmStartError);
    });
  }

  it('starts from dense weights and still returns a pruned matrix', async () => {
    const seed = freshSeed();
    const layer = randomLayer(new Random(seed), M, N, TOKENS, 0.1);
    const out = await up(new Float32Array(M * N).fill(Number.NaN));
    const result = await fistaPruneOperator(shared.rt, {
      problem: await problemOf(layer),
      dense: await up(layer.w),
      start: await up(layer.w),
      out,
      pattern: { kind: 'nm', n: 2, m: 4 },
      options: { ...options, warmStart: 'dense' },
      lipschitz: (1 + LIPSCHITZ_MARGIN) * largestEigenvalue64(layer.lasso.g, N),
      startIsCandidate: false,
      operator: OPERATOR,
    });
    const pruned = await shared.rt.readF32(out);
    expect(pruned.filter((v) => v === 0).length, `seed ${seed}`).toBe((M * N) / 2);
    expect(result.lambda).not.toBeNull();
  });

  it('reads back once per round plus once for λ₀, whatever K (and once more for L)', async () => {
    const seed = freshSeed();
    const layer = randomLayer(new Random(seed), M, N, TOKENS, 0.3);
    const problem = await problemOf(layer);
    const dense = await up(layer.w);
    const start = await up(magnitudeStart(layer.w, N));
    for (const [iterations, rounds, tolerance] of [
      [5, 2, 0],
      [40, 4, 0],
      [40, 3, 1e-4],
    ] as const) {
      const out = await up(new Float32Array(M * N));
      const before = shared.rt.counters();
      const lipschitz = await lipschitzConstant(shared.rt, problem.gram, N);
      const afterL = shared.rt.counters();
      let reported = 0;
      await fistaPruneOperator(shared.rt, {
        problem,
        dense,
        start,
        out,
        pattern: { kind: 'unstructured', sparsity: 0.5 },
        options: { ...options, iterations, rounds, tolerance },
        lipschitz,
        startIsCandidate: true,
        operator: OPERATOR,
        onRound: (r) => {
          reported++;
          expect(r.objective.y.length, `K ${iterations} seed ${seed}`).toBeLessThanOrEqual(iterations + 1);
        },
      });
      const label = `K ${iterations}, T ${rounds}, tolerance ${tolerance}, seed ${seed}`;
      expect(reported).toBe(rounds);
      expect(countersSince(afterL, before).readbacks, label).toBe(1);
      expect(countersSince(shared.rt.counters(), afterL).readbacks, label).toBe(rounds + 1);
      // The bound for the whole step: T + 3.
      expect(countersSince(shared.rt.counters(), before).readbacks, label).toBeLessThanOrEqual(rounds + 3);
    }
  });

  it("reports each round's objective as fistaSolve's objectives, thinned to the stated points, first and last kept", async () => {
    const seed = freshSeed();
    const layer = randomLayer(new Random(seed), M, N, TOKENS, 0.3);
    const problem = await problemOf(layer);
    const start = await up(magnitudeStart(layer.w, N));
    const lipschitz = (1 + LIPSCHITZ_MARGIN) * largestEigenvalue64(layer.lasso.g, N);
    // K = 4 keeps every objective; K = 300 (301 objectives) is thinned to 101, every third.
    for (const iterations of [4, 300]) {
      const reports: RoundReport[] = [];
      await fistaPruneOperator(shared.rt, {
        problem,
        dense: await up(layer.w),
        start,
        out: await up(new Float32Array(M * N)),
        pattern: { kind: 'unstructured', sparsity: 0.5 },
        options: { ...options, iterations, rounds: 2 },
        lipschitz,
        startIsCandidate: true,
        operator: OPERATOR,
        onRound: (r) => reports.push(r),
      });
      // Round 0 starts from the warm start itself: the same solve, run alone, gives its objectives.
      const ws = await FistaWorkspace.create(shared.rt, M, N, iterations);
      const first = reports[0] as RoundReport;
      const solve = await fistaSolve(shared.rt, {
        problem,
        workspace: ws,
        start,
        lambda: first.lambda,
        lipschitz,
        iterations,
      });
      ws.destroy();
      const label = `K ${iterations} seed ${seed}`;
      expect(solve.objectives, label).toHaveLength(iterations + 1);
      const full = { x: solve.objectives.map((_, k) => k), y: solve.objectives };
      const thinned = thinSeries({ name: 'objectives', ...full }, FISTA_OBJECTIVE_POINTS);
      expect(first.objective, label).toEqual({
        name: objectiveSeriesName(0),
        xUnit: 'iteration',
        x: thinned.x,
        y: thinned.y,
        round: { ...OPERATOR, round: 0 },
      });
      expect(first.objective.x.length, label).toBe(Math.min(iterations + 1, FISTA_OBJECTIVE_POINTS));
      expect(first.objective.x[0], label).toBe(0);
      expect(first.objective.x.at(-1), label).toBe(iterations);
      expect(first.objective.y.at(-1), label).toBe(solve.objectives.at(-1));
      expect(
        reports.map((r) => r.objective.round),
        label,
      ).toEqual([
        { ...OPERATOR, round: 0 },
        { ...OPERATOR, round: 1 },
      ]);
    }
  });
});
