import { describe, expect, it } from 'vitest';
import { countersSince } from '../gpu/runtime';
import { freshSeed, Random } from '../kernels/random';
import { FistaWorkspace, fistaSolve, median, operatorError, weightedEnergy } from './fista';
import {
  crossGram64,
  type Layer,
  largestEigenvalue64,
  lassoGradient64,
  lassoObjective64,
  lassoOptimum64,
  randomLayer,
  tokenError64,
} from './fista.reference';
import { DegenerateGramError, LIPSCHITZ_MARGIN, largestEigenvalue } from './lipschitz';
import { sharedUploads } from './uploadsTesting';

describe('FISTA on the GPU', () => {
  const shared = sharedUploads();
  const up = (data: Float32Array | Float64Array) => shared.uploads.up(data);
  const problemOf = (layer: Layer) => shared.uploads.problem(layer);

  it('reaches the float64 LASSO optimum: objective and KKT conditions', async () => {
    const seed = freshSeed();
    const layer = randomLayer(new Random(seed), 7, 13, 61, 0.1);
    const p = layer.lasso;
    const g0 = lassoGradient64(p, new Float64Array(p.m * p.n));
    // A λ that zeroes a fair share of the entries but not all.
    const lambda = 0.3 * g0.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const problem = await problemOf(layer);
    const L = (1 + LIPSCHITZ_MARGIN) * largestEigenvalue64(p.g, p.n);
    const ws = await FistaWorkspace.create(shared.rt, p.m, p.n, 1500);
    const solve = await fistaSolve(shared.rt, {
      problem,
      workspace: ws,
      start: await up(layer.w),
      lambda,
      lipschitz: L,
      iterations: 1500,
    });
    const gpu = await shared.rt.readF32(ws.w);
    ws.destroy();
    const optimum = lassoOptimum64(p, lambda, layer.w);
    const fStar = lassoObjective64(p, optimum, lambda);
    const fGpu = lassoObjective64(p, gpu, lambda);
    // The f32 iterate sits within rounding of the optimum; the objective gap is second order in
    // that distance. 1e-5 relative leaves room for gradients rounded at 2⁻²⁴·n·|W||G|.
    expect(fGpu - fStar, `seed ${seed}`).toBeLessThanOrEqual(1e-5 * fStar);
    // The objective the GPU reports for its last iterate, against f64 on the same matrix: its
    // terms are summed in f32 (tree depth ≤ 16 roundings per pass) with ‖WX‖² added, so 1e-5.
    expect(Math.abs((solve.objectives.at(-1) as number) - fGpu), `seed ${seed}`).toBeLessThanOrEqual(
      1e-5 * fGpu,
    );
    // KKT of the LASSO: ∇f + λ·sign(w) = 0 where w ≠ 0, |∇f| ≤ λ where w = 0, within 1e-3·λ.
    const grad = lassoGradient64(p, gpu);
    let zeros = 0;
    for (let i = 0; i < gpu.length; i++) {
      const w = gpu[i] as number;
      const gi = grad[i] as number;
      if (w === 0) {
        zeros++;
        expect(Math.abs(gi), `entry ${i} seed ${seed}`).toBeLessThanOrEqual(lambda * (1 + 1e-3));
      } else {
        expect(Math.abs(gi + lambda * Math.sign(w)), `entry ${i} seed ${seed}`).toBeLessThanOrEqual(
          1e-3 * lambda,
        );
      }
    }
    expect(zeros, `seed ${seed}: λ should zero some entries`).toBeGreaterThan(0);
    expect(zeros, `seed ${seed}: λ should not zero everything`).toBeLessThan(gpu.length);
  });

  it('measures ‖V X* − W X‖² and ‖WX‖² as the tokens do', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const layer = randomLayer(random, 9, 20, 45, 0.2);
    const problem = await problemOf(layer);
    const v = random.uniform(layer.m * layer.n);
    const expected = tokenError64(v, layer.w, layer.x, layer.xStar, layer.m, layer.n, layer.tokens);
    // Statistics rounded to f32 (2⁻²⁴ each) and a sum with cancellation against ‖WX‖²: 1e-4 of ‖WX‖².
    const gpu = await operatorError(shared.rt, problem, await up(v));
    expect(Math.abs(gpu - expected), `seed ${seed}`).toBeLessThanOrEqual(1e-4 * layer.lasso.c0);
    const energy = await weightedEnergy(
      shared.rt,
      await up(layer.w),
      await up(crossGram64(layer.x, layer.x, layer.tokens, layer.n)),
      layer.m,
      layer.n,
    );
    expect(Math.abs(energy - layer.lasso.c0) / layer.lasso.c0, `seed ${seed}`).toBeLessThanOrEqual(1e-5);
  });

  it('finds λ_max of a Gram by Lanczos with one read-back', async () => {
    const seed = freshSeed();
    const layer = randomLayer(new Random(seed), 1, 33, 80, 0);
    const exact = largestEigenvalue64(layer.lasso.g, 33);
    const gram = await up(layer.lasso.g);
    const before = shared.rt.counters();
    const gpu = await largestEigenvalue(shared.rt, gram, 33);
    expect(countersSince(shared.rt.counters(), before).readbacks).toBe(1);
    // 33 ≤ LANCZOS_STEPS steps span the whole space: only f32 rounding of G and the recurrence.
    expect(Math.abs(gpu - exact) / exact, `seed ${seed}`).toBeLessThanOrEqual(1e-4);
  });

  it('refuses a Gram with NaN or infinite values, or an all-zero one', async () => {
    const n = 9;
    const g = randomLayer(new Random(freshSeed()), 1, n, 20, 0).lasso.g;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const poisoned = Float64Array.from(g);
      poisoned[4 * n + 7] = bad;
      poisoned[7 * n + 4] = bad;
      await expect(largestEigenvalue(shared.rt, await up(poisoned), n)).rejects.toThrow(
        new DegenerateGramError('the Gram matrix holds NaN or infinite values'),
      );
    }
    await expect(largestEigenvalue(shared.rt, await up(new Float64Array(n * n)), n)).rejects.toThrow(
      new DegenerateGramError('the Gram matrix is zero: the operator never saw a non-zero input'),
    );
  });

  it('stops at the tolerance exactly where a solve of that many iterations ends', async () => {
    const seed = freshSeed();
    const layer = randomLayer(new Random(seed), 5, 11, 40, 0.1);
    const p = layer.lasso;
    const problem = await problemOf(layer);
    const start = await up(layer.w);
    const lambda =
      0.1 * lassoGradient64(p, new Float64Array(p.m * p.n)).reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const L = (1 + LIPSCHITZ_MARGIN) * largestEigenvalue64(p.g, p.n);
    const K = 200;
    const ws = await FistaWorkspace.create(shared.rt, p.m, p.n, K);
    try {
      const solve = (iterations: number, tolerance = 0) =>
        fistaSolve(shared.rt, { problem, workspace: ws, start, lambda, lipschitz: L, iterations, tolerance });
      const tolerance = 1e-3;
      const early = await solve(K, tolerance);
      const w = await shared.rt.readF32(ws.w);
      const z = await shared.rt.readF32(ws.z);
      const s = early.iterations;
      expect(s, `seed ${seed}: the tolerance should end the solve early`).toBeLessThan(K);
      expect(s).toBeGreaterThan(1);
      expect(early.objectives).toHaveLength(s + 1);
      // The same kernels in the same order: bit-identical to a solve that runs s iterations.
      const plain = await solve(s);
      expect(await shared.rt.readF32(ws.w)).toEqual(w);
      expect(await shared.rt.readF32(ws.z)).toEqual(z);
      expect(early.objectives).toEqual(plain.objectives);
      // And s is the first iteration whose step ‖W_s − W_{s−1}‖ is within tol·‖W_s‖ (the GPU
      // compares f32 sums of squares; 1e-3 relative slack for their rounding).
      const iterate = async (k: number) => {
        await solve(k);
        return shared.rt.readF32(ws.w);
      };
      const ratio = (a: Float32Array, b: Float32Array) =>
        Math.sqrt(a.reduce((t, v, i) => t + (v - (b[i] as number)) ** 2, 0)) /
        Math.sqrt(a.reduce((t, v) => t + v * v, 0));
      const previous = await iterate(s - 1);
      expect(ratio(w, previous), `seed ${seed}`).toBeLessThanOrEqual(tolerance * (1 + 1e-3));
      const older = s > 2 ? await iterate(s - 2) : layer.w;
      expect(ratio(previous, older), `seed ${seed}`).toBeGreaterThan(tolerance * (1 - 1e-3));
    } finally {
      ws.destroy();
    }
  });

  it('takes the median by quickselect', () => {
    const random = new Random(freshSeed());
    for (const n of [1, 2, 7, 100, 1001]) {
      const values = random.integers(n, 5);
      const sorted = Array.from(values).sort((a, b) => a - b);
      expect(median(values)).toBe(sorted[(n - 1) >> 1]);
    }
  });
});
