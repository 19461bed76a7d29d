import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createTinyRuntime, withNodeRuntime } from '../host/testRuntimes';
import { attention } from './attention';
import { scoresAttention } from './attentionScores';
import { attentionShapes, expectAttentionReference } from './attentionTesting';
import { freshSeed, Random } from './random';
import { softmax } from './softmax';
import { scratch } from './testing';

describe('attention through materialised scores', () => {
  let rt: GpuRuntime;
  withNodeRuntime((made) => {
    rt = made;
  });

  // The same bound as the online-softmax kernel: its derivation covers any summation order.
  for (const shape of attentionShapes(64))
    it(`matches the reference for ${JSON.stringify(shape)}`, () =>
      expectAttentionReference(rt, scoresAttention, shape));

  it('agrees with the online-softmax kernel', async () => {
    const shape = { tokens: 45, heads: 4, kvHeads: 2, headDim: 16 };
    const random = new Random(freshSeed());
    const [q, k, v] = [4, 2, 2].map((h) => random.uniform(45 * h * 16));
    const [qb, kb, vb] = [
      await scratch(rt, q as Float32Array),
      await scratch(rt, k as Float32Array),
      await scratch(rt, v as Float32Array),
    ];
    const a = await scratch(rt, new Float32Array(45 * 64));
    const b = await scratch(rt, new Float32Array(45 * 64));
    await attention(rt, { ...shape, q: qb, k: kb, v: vb, out: a });
    await scoresAttention(rt, { ...shape, q: qb, k: kb, v: vb, out: b });
    const [x, y] = [await rt.readF32(a), await rt.readF32(b)];
    for (let i = 0; i < x.length; i++)
      expect(Math.abs((x[i] as number) - (y[i] as number))).toBeLessThan(1e-5);
  });

  it('masks causally and normalises every row of a softmax, under a tiny binding limit', async () => {
    const tiny = await createTinyRuntime();
    const rows = 40;
    const cols = 40;
    const x = new Random(freshSeed()).uniform(rows * cols, -5, 5);
    const buffer = await scratch(tiny, x);
    await softmax(tiny, { x: buffer, rows, cols, scale: 0.7, causal: true });
    const y = await tiny.readF32(buffer);
    for (let r = 0; r < rows; r++) {
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j <= r; j++) max = Math.max(max, 0.7 * (x[r * cols + j] as number));
      let z = 0;
      for (let j = 0; j <= r; j++) z += Math.exp(0.7 * (x[r * cols + j] as number) - max);
      for (let j = 0; j < cols; j++) {
        const want = j <= r ? Math.exp(0.7 * (x[r * cols + j] as number) - max) / z : 0;
        // exp and the division round: a few ulps of the row's largest weight, 1.
        expect(Math.abs((y[r * cols + j] as number) - want), `row ${r} col ${j}`).toBeLessThan(64 * 2 ** -24);
      }
    }
    tiny.destroy();
  });
});
