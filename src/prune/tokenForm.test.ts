import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { freshSeed, Random } from '../kernels/random';
import { operatorError, weightedEnergy } from './fista';
import { crossGram64, matmul64, tokenError64 } from './fista.reference';
import { denseOutput, measuresThroughTokens, tokenError } from './tokenForm';

// The baselines' energy and error through the tokens against the float64 sums over tokens and
// against the same quantities through the Gram (fista.ts), on fresh random data at shapes that
// match no tile, at the device's limits and with 4 KiB bindings so every operand is split into
// windows. Bounds: both GPU forms sum f32 products of O(n) terms and a tree of O(t·m) squares,
// 2⁻²⁴ each; 1e-5 of ‖WX‖² for the energy. The error's difference is formed before squaring in
// the token form (1e-4 of the error itself) and after in the Gram form (fista.test.ts: 1e-4 of ‖WX‖²).

async function measure(rt: GpuRuntime, m: number, n: number, tokens: number) {
  const seed = freshSeed();
  const random = new Random(seed);
  const w = random.uniform(m * n);
  const x = random.uniform(tokens * n);
  // Half the weights zeroed and the rest perturbed: a pruned matrix. (Its error is usually below
  // ‖WX‖², but with 3 tokens not always: seed 2041785440 had 68.6 against 65.5.)
  const v = w.map((value, i) => (i % 2 === 0 ? 0 : value * (1 + 0.1 * random.next())));
  const owned: { destroy(): void }[] = [];
  const up = async (data: Float32Array | Float64Array) => {
    const b = await rt.upload('test', 'scratch', Float32Array.from(data));
    owned.push(b);
    return b.buffer;
  };
  try {
    const xw = await rt.createBuffer('X·Wᵀ', 'scratch', 4 * tokens * m);
    owned.push(xw);
    const p = { rows: m, cols: n, tokens, x: await up(x), xw: xw.buffer };
    const wBuffer = await up(w);
    const energy = await denseOutput(rt, p, wBuffer);
    const error = await tokenError(rt, p, await up(v));
    // The Gram form from f64 statistics: H = XᵀX and B = W·H.
    const h = crossGram64(x, x, tokens, n);
    const gramEnergy = await weightedEnergy(rt, wBuffer, await up(h), m, n);
    const problem = {
      rows: m,
      cols: n,
      gram: await up(h),
      b: await up(matmul64(w, h, m, n, n)),
      denseEnergy: gramEnergy,
    };
    const gramError = await operatorError(rt, problem, await up(v));
    return {
      seed,
      energy,
      error,
      gramEnergy,
      gramError,
      energy64: tokenError64(new Float64Array(m * n), w, x, x, m, n, tokens),
      error64: tokenError64(v, w, x, x, m, n, tokens),
    };
  } finally {
    for (const b of owned) b.destroy();
  }
}

function check(r: Awaited<ReturnType<typeof measure>>) {
  const at = `seed ${r.seed}`;
  expect(Math.abs(r.energy - r.energy64), at).toBeLessThanOrEqual(1e-5 * r.energy64);
  expect(Math.abs(r.gramEnergy - r.energy64), at).toBeLessThanOrEqual(1e-5 * r.energy64);
  expect(Math.abs(r.error - r.error64), at).toBeLessThanOrEqual(1e-4 * r.error64);
  expect(Math.abs(r.gramError - r.error64), at).toBeLessThanOrEqual(1e-4 * r.energy64);
}

describe('a baseline measured through its tokens', () => {
  it('matches the float64 sums and the Gram form, at the device limits and with small bindings', async () => {
    for (const capLimits of [undefined, { maxStorageBufferBindingSize: 4096 }]) {
      const rt = await createNodeRuntime(capLimits ? { capLimits } : {});
      try {
        check(await measure(rt, 37, 53, 29));
        check(await measure(rt, 5, 70, 3));
      } finally {
        rt.destroy();
      }
    }
  });

  it('is chosen when it costs fewer FLOPs: 2·2mnt < 3·2mn²', () => {
    expect(measuresThroughTokens(128, 4096)).toBe(true);
    expect(measuresThroughTokens(128 * 2048, 11008)).toBe(false);
    // At the boundary, 2t = 3n, the forms cost the same and the Gram form stays.
    expect(measuresThroughTokens(96, 64)).toBe(false);
    expect(measuresThroughTokens(95, 64)).toBe(true);
  });
});
