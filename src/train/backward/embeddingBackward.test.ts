import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { freshSeed, Random } from '../../kernels/random';
import { F32_EPS } from '../../kernels/reference';
import { embeddingReference } from '../../kernels/reference.model';
import { onCappedRuntime, sharedRuntime } from '../runtimeTesting';
import { embeddingBackward, segmentsById } from './embeddingBackward';
import { centralDifferences, dot, gradientError } from './gradientCheck';

// dTable of L = Σ dOut ⊙ embedding(table, ids) (+ the prior content of dTable) is checked against
// central differences of the float64 forward reference (reference.model.ts embeddingReference).
// L is linear in the table, so the differences are exact but for float64 rounding. Bound, per
// element against Σ_t |dOut[t, c]| over the id's tokens plus |prior|: a row of n tokens is a chain
// of n additions and one more into the prior, (n + 1)ε ≤ (most repeated id + 1)ε. Rows of ids that
// do not occur must keep their prior exactly.
interface Case {
  tokens: number;
  vocab: number;
  width: number;
  /** Positions t + offset instead of random token ids. */
  positions?: number;
  ld?: number;
}
const CASES: Case[] = [
  { tokens: 1, vocab: 1, width: 1 },
  { tokens: 37, vocab: 13, width: 67 },
  { tokens: 70, vocab: 101, width: 5 },
  { tokens: 29, vocab: 33, width: 9, positions: 2, ld: 12 },
];
const H = 2 ** -10;

describe('embedding backward', () => {
  const gpu = sharedRuntime();

  async function check(r: GpuRuntime, c: Case) {
    const seed = freshSeed();
    const random = new Random(seed);
    const { tokens: T, vocab: V, width: W } = c;
    const ld = c.ld ?? W;
    const ids = Uint32Array.from({ length: T }, (_, t) =>
      c.positions !== undefined ? t + c.positions : Math.floor(random.next() * V),
    );
    const table = random.uniform(V * W);
    const dOut = random.uniform(T * W);
    const stored = new Float32Array(T * ld).fill(Number.NaN);
    for (let t = 0; t < T; t++) stored.set(dOut.subarray(t * W, (t + 1) * W), t * ld);
    const prior = random.uniform(V * W);
    const dTable = (await r.upload('embeddingBackward test', 'scratch', prior)).buffer;
    await embeddingBackward(r, {
      ids,
      dOut: (await r.upload('embeddingBackward test', 'scratch', stored)).buffer,
      dTable,
      vocab: V,
      width: W,
      ldOut: ld,
    });
    const gpu = await r.readF32(dTable);
    const want = centralDifferences((x) => dot(dOut, embeddingReference(x, W, ids).value), table, H).grad.map(
      (g, i) => g + (prior[i] as number),
    );
    const scale = Float64Array.from(prior, Math.abs);
    const count = new Map<number, number>();
    ids.forEach((id, t) => {
      count.set(id, (count.get(id) ?? 0) + 1);
      for (let j = 0; j < W; j++)
        scale[id * W + j] = (scale[id * W + j] as number) + Math.abs(dOut[t * W + j] as number);
    });
    const label = `${JSON.stringify(c)} seed ${seed}`;
    for (let id = 0; id < V; id++) {
      if (count.has(id)) continue;
      for (let j = 0; j < W; j++)
        expect(gpu[id * W + j], `untouched row ${id}, ${label}`).toBe(prior[id * W + j]);
    }
    const bound = (Math.max(...count.values()) + 1) * F32_EPS;
    expect(gradientError(gpu, want, { scale }), label).toBeLessThanOrEqual(bound);
  }

  for (const c of CASES)
    it(`matches differences of the forward for ${JSON.stringify(c)}`, () => check(gpu.rt, c));

  it('sorts tokens into segments by id, ties in position order', () => {
    const s = segmentsById([5, 2, 5, 0, 2, 5], 0, 6);
    expect([...s.ids]).toEqual([0, 2, 5]);
    expect([...s.starts]).toEqual([0, 1, 3, 6]);
    expect([...s.order]).toEqual([3, 1, 4, 0, 2, 5]);
    const window = segmentsById([5, 2, 5, 0, 2, 5], 2, 5);
    expect([...window.ids]).toEqual([0, 2, 5]);
    expect([...window.order]).toEqual([1, 2, 0]);
  });

  it('works in token, column and vocabulary windows under tiny limits', async () => {
    await onCappedRuntime(
      { maxStorageBufferBindingSize: 512, maxComputeWorkgroupsPerDimension: 3 },
      async (tiny) => {
        // Windows of 64 floats (SwiftShader's 256-byte offset alignment): one token per window, two
        // column windows (70 > 64), one vocabulary row per table window, at four offset residues.
        // 41 tokens over 101 ids plan the same windows as the 83 over 211 this case had (a submission
        // per token, two dispatches each, counted), repeat ids (about 8 pairs expected) and leave rows
        // untouched, at a quarter of the float64 differences' cost (V·W perturbations of a T·W
        // forward), which were most of this test's time.
        await check(tiny, { tokens: 41, vocab: 101, width: 70 });
        await check(tiny, { tokens: 50, vocab: 60, width: 3, positions: 7, ld: 4 });
      },
    );
  });

  it('rejects bad ids and shapes with RangeErrors', async () => {
    const b = (await gpu.rt.upload('t', 'scratch', new Float32Array(20))).buffer;
    const c = (await gpu.rt.upload('t', 'scratch', new Float32Array(20))).buffer;
    await expect(
      embeddingBackward(gpu.rt, { ids: [0, 4], dOut: b, dTable: c, vocab: 4, width: 5 }),
    ).rejects.toThrow(/id 4 of token 1 is outside/);
    await expect(
      embeddingBackward(gpu.rt, { ids: [0, 1.5], dOut: b, dTable: c, vocab: 4, width: 5 }),
    ).rejects.toThrow(/id 1.5/);
    await expect(
      embeddingBackward(gpu.rt, { ids: [0, 1], dOut: b, dTable: c, vocab: 5, width: 5 }),
    ).rejects.toThrow(/dTable \(5×5.*needs 100/);
    await expect(
      embeddingBackward(gpu.rt, { ids: [0, 1], dOut: b, dTable: b, vocab: 4, width: 5 }),
    ).rejects.toThrow(/different buffer/);
  });
});
