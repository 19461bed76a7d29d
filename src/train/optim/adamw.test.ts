import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { TINY_LIMITS } from '../../host/testRuntimes';
import { freshSeed, Random } from '../../kernels/random';
import { onCappedRuntime, sharedRuntime } from '../runtimeTesting';
import { AdamW } from './adamw';
import { AdamWReference } from './adamw.reference';
import { NonFiniteGradientError } from './optimizer';
import {
  AWKWARD,
  awkwardGradient,
  expectStateInLedger,
  LRS,
  maxAbs,
  maxAbsDiff,
  type Shape,
  TestParams,
  U32,
} from './testParams';

const STEPS = 5;

/**
 * Runs STEPS steps on the GPU and in float64 and checks every parameter against this bound, summed
 * over the steps: 2u·max|p| (rounding w·(1−ηλ) and the subtraction) plus (3T + 8)·u·S_t, where
 * S_t = max over elements of (η/(1−β1ᵗ))·max_s|g_s| / (sqrt(v̂) + ε) is what an error of the
 * moment m (at most 3u·max_s|g_s| per step it has lived, so 3T·u) and the few roundings of the
 * division and square root (8u) can move the update by.
 */
async function compare(rt: GpuRuntime, shapes: readonly Shape[], seed: number) {
  const random = new Random(seed);
  const set = await TestParams.create(rt, random, shapes);
  const opt = new AdamW({ weightDecay: 0.1 });
  const ref = new AdamWReference(0.9, 0.999, 1e-8, 0.1);
  const gmax = set.params.map((p) => new Float64Array(p.rows * p.cols));
  const bounds = set.params.map(() => 0);
  try {
    for (let t = 0; t < STEPS; t++) {
      const lr = LRS[t] as number;
      const grads = set.setGradients((p) =>
        awkwardGradient(random, p.rows, p.cols, 10 ** (-1 - 2 * random.next())),
      );
      await opt.step(rt, set.slots, lr);
      ref.step(
        set.params.map((p, i) => ({ ...p, p: p.ref, g: grads[i] as Float32Array })),
        lr,
      );
      for (const [i, p] of set.params.entries()) {
        const s = ref.states.get(p.name);
        const gm = gmax[i] as Float64Array;
        const g = grads[i] as Float32Array;
        let sens = 0;
        for (let e = 0; e < gm.length; e++) {
          gm[e] = Math.max(gm[e] as number, Math.abs(g[e] as number));
          const denom = Math.sqrt((s?.v[e] as number) / (1 - 0.999 ** (t + 1))) + 1e-8;
          sens = Math.max(sens, ((lr / (1 - 0.9 ** (t + 1))) * (gm[e] as number)) / denom);
        }
        bounds[i] = (bounds[i] as number) + 2 * U32 * maxAbs(p.ref) + (3 * STEPS + 8) * U32 * sens;
      }
    }
    for (const [i, p] of set.params.entries()) {
      const error = maxAbsDiff(await set.read(p), p.ref);
      if (process.env.OPTIM_BOUNDS)
        console.log(`adamw ${p.name}: error/bound ${(error / (bounds[i] as number)).toExponential(2)}`);
      expect(error, `${p.name} seed ${seed}`).toBeLessThanOrEqual(bounds[i] as number);
      // The parameters did move, by far more than the bound.
      expect(maxAbsDiff(p.p0, p.ref)).toBeGreaterThan(100 * (bounds[i] as number));
    }
  } finally {
    opt.destroy();
    set.destroy();
  }
}

describe('AdamW on the GPU', () => {
  const gpu = sharedRuntime();

  it('follows the float64 reference for a few steps on awkward shapes', () =>
    compare(gpu.rt, AWKWARD, freshSeed()));

  it('follows it under a tiny binding limit (windowed passes)', async () => {
    await onCappedRuntime(TINY_LIMITS, async (tiny) => {
      await compare(tiny, [{ name: 'w37x29', rows: 37, cols: 29 }, ...AWKWARD.slice(2)], freshSeed());
    });
  });

  it('keeps 2·rows·cols floats per parameter, as the ledger shows', () =>
    expectStateInLedger(
      gpu.rt,
      new AdamW(),
      AWKWARD.reduce((sum, s) => sum + 4 * 2 * s.rows * s.cols, 0),
    ));

  it('refuses a bad learning rate or hyper-parameter with a RangeError', async () => {
    const random = new Random(freshSeed());
    const set = await TestParams.create(gpu.rt, random, AWKWARD.slice(0, 1));
    const opt = new AdamW();
    for (const lr of [-1e-3, Number.NaN, Number.POSITIVE_INFINITY])
      await expect(opt.step(gpu.rt, set.slots, lr)).rejects.toThrow(
        /learning rate must be a finite number ≥ 0/,
      );
    expect(() => new AdamW({ betas: [1, 0.999] })).toThrow(RangeError);
    expect(() => new AdamW({ eps: 0 })).toThrow(RangeError);
    expect(() => new AdamW({ weightDecay: -1 })).toThrow(RangeError);
    opt.destroy();
    set.destroy();
  });

  it('refuses a NaN or infinite gradient, naming the parameter, and changes nothing', async () => {
    const random = new Random(freshSeed());
    const set = await TestParams.create(gpu.rt, random, AWKWARD);
    const opt = new AdamW();
    set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
    await opt.step(gpu.rt, set.slots, 1e-3);
    const before = await Promise.all(set.params.map((p) => set.read(p)));
    set.setGradients((p) => {
      const g = awkwardGradient(random, p.rows, p.cols);
      if (p.name === 'w13x7') {
        g[5] = Number.NaN;
        g[17] = Number.POSITIVE_INFINITY;
        g[18] = Number.NEGATIVE_INFINITY;
      }
      return g;
    });
    const error = await opt.step(gpu.rt, set.slots, 1e-3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteGradientError);
    const e = error as NonFiniteGradientError;
    expect(e.parameter).toBe('w13x7');
    expect(e.counts).toEqual([{ parameter: 'w13x7', nan: 1, infinite: 2, elements: 91 }]);
    expect(e.message).toContain('"w13x7"');
    for (const [i, p] of set.params.entries()) expect(await set.read(p)).toEqual(before[i]);
    opt.destroy();
    set.destroy();
  });
});
