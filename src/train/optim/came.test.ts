import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { TINY_LIMITS } from '../../host/testRuntimes';
import { freshSeed, Random } from '../../kernels/random';
import { onCappedRuntime, sharedRuntime } from '../runtimeTesting';
import { Came } from './came';
import { CameReference } from './came.reference';
import { NonFiniteGradientError } from './optimizer';
import {
  AWKWARD,
  awkwardGradient,
  expectFollowsReference,
  expectOneReadbackPerStep,
  expectStateInLedger,
  maxAbs,
  type Shape,
  TestParams,
  U32,
} from './testParams';

/**
 * The bound per step: 2u·max|p| for rounding p, plus K·u·(η·max(max_t|Û|·S^-½) + η·max|M·S^-½|) with
 * K = 8·(rows + cols) + 512: the second moment's reductions as in Adafactor (4·(rows + cols) + 256)
 * reach Û and, through the momentum, M (first term); the instability's reductions cost as much
 * again and reach the confidence S^-½ (second term). On random gradients (Û − M)² is not
 * cancellation-bound: Û − M = β1·(Û − M_prev).
 */
function compare(
  rt: GpuRuntime,
  shapes: readonly Shape[],
  weightDecay = 0,
  fuseUpTo?: number,
  fusedGroup?: number,
) {
  const ref = new CameReference(0.9, 0.999, 0.9999, 1e-30, 1e-16, 1, weightDecay);
  return expectFollowsReference(rt, shapes, new Came({ weightDecay, fuseUpTo, fusedGroup }), {
    step: (params, lr) => ref.step(params, lr),
    boundAfterStep: (p) => {
      const s = ref.scales.get(p.name) as { spread: number; step: number };
      return 2 * U32 * maxAbs(p.ref) + (8 * (p.rows + p.cols) + 512) * U32 * (s.spread + s.step);
    },
  });
}

describe('CAME on the GPU', () => {
  const gpu = sharedRuntime();

  it('follows the float64 reference for a few steps on awkward shapes', () => compare(gpu.rt, AWKWARD));

  // The test above takes the fused single-workgroup path (fused.ts) for every parameter; these take
  // the multi-pass path at the device's limits, and the fused one over more rows and columns than
  // its workgroup has invocations (an invocation walks several, a row wraps past the group).
  it('follows it on the multi-pass path (fuseUpTo: 0)', () => compare(gpu.rt, AWKWARD, 0.1, 0));

  it('follows it when fused over more rows and columns than the workgroup has invocations (8 and 64)', async () => {
    const shapes = [
      { name: 'w67x3', rows: 67, cols: 3 },
      { name: 'w5x131', rows: 5, cols: 131 },
      { name: 'row1x200', rows: 1, cols: 200 },
    ];
    for (const fusedGroup of [8, 64]) await compare(gpu.rt, shapes, 0, undefined, fusedGroup);
    expect(() => new Came({ fusedGroup: 0 })).toThrow(/fused workgroup/);
  });

  it('reads back once per step (the finiteness check), fused or not', async () => {
    await expectOneReadbackPerStep(gpu.rt, (fuseUpTo) => new Came({ fuseUpTo }));
    expect(() => new Came({ fuseUpTo: Number.NaN })).toThrow(/fuse limit/);
  });

  it('follows it with weight decay under a tiny binding limit (row windows, windowed passes)', async () => {
    await onCappedRuntime(TINY_LIMITS, async (tiny) => {
      await compare(tiny, [{ name: 'w37x29', rows: 37, cols: 29 }, ...AWKWARD.slice(2)], 0.1);
    });
  });

  it('keeps mn + 2(m + n) floats per matrix and 2n per vector, as the ledger shows', () => {
    // docs/algorithms/came.md §2 and adapprox.md §6: CAME's 1-D parameters keep exp_avg and exp_avg_sq only.
    const formula = AWKWARD.reduce((sum, s) => {
      const vector = s.rows === 1 || s.cols === 1;
      return sum + 4 * (vector ? 2 * s.rows * s.cols : s.rows * s.cols + 2 * (s.rows + s.cols));
    }, 0);
    return expectStateInLedger(gpu.rt, new Came(), formula);
  });

  it('refuses bad learning rates, hyper-parameters and gradients', async () => {
    const random = new Random(freshSeed());
    const set = await TestParams.create(gpu.rt, random, AWKWARD);
    const opt = new Came();
    await expect(opt.step(gpu.rt, set.slots, Number.NEGATIVE_INFINITY)).rejects.toThrow(/learning rate/);
    expect(() => new Came({ betas: [0.9, 0.999, 1] })).toThrow(/β3 must lie in \[0, 1\)/);
    expect(() => new Came({ eps: [1e-30, 0] })).toThrow(RangeError);
    const before = await Promise.all(set.params.map((p) => set.read(p)));
    set.setGradients((p) => {
      const g = awkwardGradient(random, p.rows, p.cols);
      if (p.name === 'w7x13') g[90] = Number.POSITIVE_INFINITY;
      if (p.name === 'row1x5') g[0] = Number.NaN;
      return g;
    });
    const error = (await opt
      .step(gpu.rt, set.slots, 1e-3)
      .catch((e: unknown) => e)) as NonFiniteGradientError;
    expect(error).toBeInstanceOf(NonFiniteGradientError);
    expect(error.parameter).toBe('w7x13');
    expect(error.counts.map((c) => c.parameter)).toEqual(['w7x13', 'row1x5']);
    for (const [i, p] of set.params.entries()) expect(await set.read(p)).toEqual(before[i]);
    opt.destroy();
    set.destroy();
  });
});
