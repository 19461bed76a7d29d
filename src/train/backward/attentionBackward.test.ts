import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { freshSeed, Random } from '../../kernels/random';
import { F32_EPS, relativeError } from '../../kernels/reference';
import { attentionBound, attentionReference } from '../../kernels/reference.model';
import { onCappedRuntime, sharedRuntime } from '../runtimeTesting';
import { attentionBackward, attentionForwardSaving } from './attentionBackward';
import { centralDifferences, dot, gradientError } from './gradientCheck';

// dQ, dK, dV of L = Σ dO ⊙ attention(q, k, v) are checked against central differences of the
// float64 forward reference (reference.model.ts attentionReference), with P from the GPU forward
// that saves it (itself checked against the reference with the forward's bound).
//
// Bound, per element against a scale built like the forward's: with A_t the largest score
// magnitude of query t (scores are off by ≤ (D + 3)ε·A_t, so P by that relatively), M_tj =
// Σ_d |dO_td||V_jd| (the scale of dP) and |dS|_tj = |scale|·P_tj·(M_tj + Σ_j' P_tj' M_tj')·(1 + A_t):
//   dQ_td against Σ_j |dS|_tj |K_jd|,  dK_jd against Σ_{h,t} |dS|_tj |Q_td|,
//   dV_jd against Σ_{h,t} P_tj (1 + A_t) |dO_td|.
// The chains: dP a D-term product, the row sum ≤ T + 6 additions, dS two roundings, then a T-term
// product (per head, plus a sum over the group's heads): (2T + 2D + 32)ε, the form of
// attentionBound. The differences' step h = 2^-12: truncation ≈ h²/6·|∂³L| ≈ 1e-8 of the scale for
// unit-sized inputs, checked by Richardson on a sample to stay under a tenth of the bound.
interface Shape {
  tokens: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}
const SHAPES: Shape[] = [
  { tokens: 1, heads: 1, kvHeads: 1, headDim: 1 },
  { tokens: 23, heads: 3, kvHeads: 1, headDim: 16 },
  { tokens: 45, heads: 4, kvHeads: 2, headDim: 5 },
  { tokens: 67, heads: 2, kvHeads: 2, headDim: 4 },
];
const H = 2 ** -12;

/** Error scales of dQ, dK and dV (see above), from float64 probabilities. */
function scales(s: Shape, q: Float32Array, k: Float32Array, v: Float32Array, dOut: Float32Array) {
  const { tokens: T, heads, kvHeads, headDim: D } = s;
  const sc = 1 / Math.sqrt(D);
  const group = heads / kvHeads;
  const dQ = new Float64Array(T * heads * D);
  const dK = new Float64Array(T * kvHeads * D);
  const dV = new Float64Array(T * kvHeads * D);
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const qi = (t * heads + h) * D;
      const scores = new Float64Array(t + 1);
      let magnitude = 0;
      for (let j = 0; j <= t; j++) {
        let dotQK = 0;
        let abs = 0;
        for (let d = 0; d < D; d++) {
          const term = (q[qi + d] as number) * (k[(j * kvHeads + g) * D + d] as number);
          dotQK += term;
          abs += Math.abs(term);
        }
        scores[j] = sc * dotQK;
        magnitude = Math.max(magnitude, sc * abs);
      }
      const max = Math.max(...scores);
      const e = scores.map((x) => Math.exp(x - max));
      const z = e.reduce((a, b) => a + b, 0);
      const P = e.map((x) => x / z);
      const M = new Float64Array(t + 1);
      for (let j = 0; j <= t; j++) {
        for (let d = 0; d < D; d++) {
          M[j] =
            (M[j] as number) + Math.abs((dOut[qi + d] as number) * (v[(j * kvHeads + g) * D + d] as number));
        }
      }
      const mean = P.reduce((a, p, j) => a + p * (M[j] as number), 0);
      for (let j = 0; j <= t; j++) {
        const dS = sc * (P[j] as number) * ((M[j] as number) + mean) * (1 + magnitude);
        for (let d = 0; d < D; d++) {
          const kj = (j * kvHeads + g) * D + d;
          dQ[qi + d] = (dQ[qi + d] as number) + dS * Math.abs(k[kj] as number);
          dK[kj] = (dK[kj] as number) + dS * Math.abs(q[qi + d] as number);
          dV[kj] = (dV[kj] as number) + (P[j] as number) * (1 + magnitude) * Math.abs(dOut[qi + d] as number);
        }
      }
    }
  }
  return { dQ, dK, dV };
}

describe('attention backward (materialised scores)', () => {
  const gpu = sharedRuntime();

  async function check(r: GpuRuntime, s: Shape) {
    const seed = freshSeed();
    const random = new Random(seed);
    const { tokens: T, heads, kvHeads, headDim: D } = s;
    const q = random.uniform(T * heads * D, -1.5, 1.5);
    const k = random.uniform(T * kvHeads * D, -1.5, 1.5);
    const v = random.uniform(T * kvHeads * D);
    const dOut = random.uniform(T * heads * D);
    const up = async (data: Float32Array) =>
      (await r.upload('attentionBackward test', 'scratch', data)).buffer;
    const nan = (n: number) => up(new Float32Array(n).fill(Number.NaN));
    const [qb, kb, vb, ob] = [await up(q), await up(k), await up(v), await nan(T * heads * D)];
    const probs = await nan(Math.max(1, heads * T * T));
    await attentionForwardSaving(r, { ...s, q: qb, k: kb, v: vb, out: ob, probs });
    const label = `${JSON.stringify(s)} seed ${seed}`;
    expect(
      relativeError(await r.readF32(ob), attentionReference({ ...s, q, k, v })),
      `forward ${label}`,
    ).toBeLessThanOrEqual(attentionBound(T, D));

    const dQ = await nan(T * heads * D);
    const dK = await nan(T * kvHeads * D);
    const dV = await nan(T * kvHeads * D);
    await attentionBackward(r, { ...s, q: qb, k: kb, v: vb, probs, dOut: await up(dOut), dQ, dK, dV });

    const bound = (2 * T + 2 * D + 32) * F32_EPS;
    const scale = scales(s, q, k, v, dOut);
    const loss = () => dot(dOut, attentionReference({ ...s, q, k, v }).value);
    for (const [name, input, gpu, sc] of [
      ['dQ', q, dQ, scale.dQ],
      ['dK', k, dK, scale.dK],
      ['dV', v, dV, scale.dV],
    ] as const) {
      const want = centralDifferences(loss, input, H).grad;
      // The differences' own error, on a sample of elements.
      const sample = Array.from({ length: Math.min(8, input.length) }, (_, i) =>
        Math.floor((i * input.length) / Math.min(8, input.length)),
      );
      const own = centralDifferences(loss, input, H, { indices: sample, estimate: true });
      const ownError = Math.max(...sample.map((i) => own.error / (sc[i] as number)));
      expect(ownError, `differences' own error, ${name} ${label}`).toBeLessThan(bound / 10);
      expect(
        gradientError(await r.readF32(gpu), want, { scale: sc }),
        `${name} ${label}`,
      ).toBeLessThanOrEqual(bound);
    }
  }

  for (const s of SHAPES)
    it(`matches differences of the forward for ${JSON.stringify(s)}`, () => check(gpu.rt, s));

  it('works in row windows under a tiny binding limit', async () => {
    await onCappedRuntime(
      { maxStorageBufferBindingSize: 1024, maxComputeWorkgroupsPerDimension: 3 },
      async (tiny) => {
        await check(tiny, { tokens: 19, heads: 2, kvHeads: 1, headDim: 6 });
      },
    );
  });

  it('rejects bad arguments with RangeErrors', async () => {
    const b = (n: number) => gpu.rt.createBuffer('t', 'scratch', n * 4).then((t) => t.buffer);
    const [q, k, v, o, p] = [await b(24), await b(24), await b(24), await b(24), await b(72)];
    const base = { q, k, v, probs: p, dOut: o, tokens: 3, heads: 2, kvHeads: 2, headDim: 4 };
    const [dQ, dK, dV] = [await b(24), await b(24), await b(24)];
    await expect(attentionBackward(gpu.rt, { ...base, heads: 3, kvHeads: 2, dQ, dK, dV })).rejects.toThrow(
      /multiple of kvHeads/,
    );
    await expect(attentionBackward(gpu.rt, { ...base, dQ: q, dK, dV })).rejects.toThrow(/different buffer/);
    const small = await b(10);
    await expect(attentionBackward(gpu.rt, { ...base, probs: small, dQ, dK, dV })).rejects.toThrow(
      /probs \(2×9/,
    );
    await expect(
      attentionForwardSaving(gpu.rt, {
        q,
        k,
        v,
        out: o,
        probs: p,
        tokens: 4,
        heads: 2,
        kvHeads: 1,
        headDim: 4,
      }),
    ).rejects.toThrow(/q \(4×8.*needs 128/);
  });
});
