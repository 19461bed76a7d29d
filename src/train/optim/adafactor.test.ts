import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { TINY_LIMITS } from '../../host/testRuntimes';
import { freshSeed, Random } from '../../kernels/random';
import { onCappedRuntime, sharedRuntime } from '../runtimeTesting';
import { Adafactor, type AdafactorOptions } from './adafactor';
import { AdafactorReference, type AdafactorReferenceOptions } from './adafactor.reference';
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
 * The bound per step: 2u·max|p| for rounding p (the decay and the subtraction), plus K·u·max|α·Û|
 * for the update, where K = 4·(rows + cols) + 256 covers the reductions the update goes through
 * (a column mean sums `rows` terms serially, a row mean `cols`, the sums of R, Û² and W² are at
 * most 32 serial plus tree levels of depth ≤ 24 on these sizes), the inverse square roots (2 ulp each in WGSL),
 * the clip and the EMAs; with momentum the errors of the updates it averages add up to at most
 * the same bound on max|α·Û|.
 */
function compare(
  rt: GpuRuntime,
  shapes: readonly Shape[],
  options: AdafactorOptions & Partial<AdafactorReferenceOptions>,
) {
  const ref = new AdafactorReference(options);
  return expectFollowsReference(rt, shapes, new Adafactor(options), {
    step: (params, lr) => ref.step(params, lr),
    boundAfterStep: (p) =>
      2 * U32 * maxAbs(p.ref) + (4 * (p.rows + p.cols) + 256) * U32 * (ref.lastUpdate.get(p.name) as number),
  });
}

describe('Adafactor on the GPU', () => {
  const gpu = sharedRuntime();

  it('follows the float64 reference: explicit lr, no momentum (the defaults)', () =>
    compare(gpu.rt, AWKWARD, {}));

  it('follows it with momentum, weight decay, relative step and parameter scaling', () =>
    compare(gpu.rt, AWKWARD, { beta1: 0.9, weightDecay: 0.1, relativeStep: true, scaleParameter: true }));

  // The tests above take the fused single-workgroup path (fused.ts) for every parameter; these take
  // the multi-pass path at the device's limits, and the fused one over more rows and columns than
  // its workgroup has invocations (an invocation walks several, a row wraps past the group).
  it('follows it on the multi-pass path (fuseUpTo: 0), with and without momentum', async () => {
    await compare(gpu.rt, AWKWARD, { fuseUpTo: 0 });
    await compare(gpu.rt, AWKWARD, { fuseUpTo: 0, beta1: 0.9, scaleParameter: true, weightDecay: 0.1 });
  });

  it('follows it when fused over more rows and columns than the workgroup has invocations (8 and 64)', async () => {
    for (const fusedGroup of [8, 64])
      await compare(
        gpu.rt,
        [
          { name: 'w67x3', rows: 67, cols: 3 },
          { name: 'w5x131', rows: 5, cols: 131 },
          { name: 'row1x200', rows: 1, cols: 200 },
        ],
        { beta1: 0.9, scaleParameter: true, fusedGroup },
      );
    expect(() => new Adafactor({ fusedGroup: 12 })).toThrow(/fused workgroup/);
  });

  it('reads back once per step (the finiteness check), fused or not', async () => {
    await expectOneReadbackPerStep(gpu.rt, (fuseUpTo) => new Adafactor({ beta1: 0.9, fuseUpTo }));
    expect(() => new Adafactor({ fuseUpTo: -1 })).toThrow(/fuse limit/);
  });

  it('follows it under a tiny binding limit (row windows, windowed passes)', async () => {
    await onCappedRuntime(TINY_LIMITS, async (tiny) => {
      await compare(tiny, [{ name: 'w37x29', rows: 37, cols: 29 }, ...AWKWARD.slice(2)], { beta1: 0.9 });
    });
  });

  for (const beta1 of [0, 0.9])
    it(`keeps rows + cols floats per matrix${beta1 ? ' plus the momentum' : ''}, as the ledger shows`, () => {
      // docs/algorithms/adafactor.md §3: (m + n) per matrix, n per vector, plus mn (or n) with β1 > 0.
      const formula = AWKWARD.reduce((sum, s) => {
        const vector = s.rows === 1 || s.cols === 1;
        return sum + 4 * ((vector ? s.rows * s.cols : s.rows + s.cols) + (beta1 > 0 ? s.rows * s.cols : 0));
      }, 0);
      return expectStateInLedger(gpu.rt, new Adafactor({ beta1 }), formula);
    });

  it('refuses bad learning rates, hyper-parameters and gradients', async () => {
    const random = new Random(freshSeed());
    const set = await TestParams.create(gpu.rt, random, AWKWARD);
    const opt = new Adafactor({ beta1: 0.9 });
    await expect(opt.step(gpu.rt, set.slots, -1)).rejects.toThrow(RangeError);
    await expect(opt.step(gpu.rt, set.slots, Number.NaN)).rejects.toThrow(/learning rate/);
    expect(() => new Adafactor({ beta1: -0.1 })).toThrow(RangeError);
    expect(() => new Adafactor({ clipThreshold: 0 })).toThrow(RangeError);
    expect(() => new Adafactor({ warmupInit: true })).toThrow(/relative step/);
    set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
    await opt.step(gpu.rt, set.slots, 1e-3);
    const before = await Promise.all(set.params.map((p) => set.read(p)));
    set.setGradients((p) => {
      const g = awkwardGradient(random, p.rows, p.cols);
      if (p.name === 'col33x1') g[32] = Number.NaN;
      return g;
    });
    await expect(opt.step(gpu.rt, set.slots, 1e-3)).rejects.toThrow(NonFiniteGradientError);
    await expect(opt.step(gpu.rt, set.slots, 1e-3)).rejects.toThrow(/"col33x1" \(1 NaN, 0 infinite of 33\)/);
    for (const [i, p] of set.params.entries()) expect(await set.read(p)).toEqual(before[i]);
    opt.destroy();
    set.destroy();
  });
});
