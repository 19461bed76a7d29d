import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { createTinyRuntime } from '../host/testRuntimes';
import { attention } from './attention';
import { scoresAttention } from './attentionScores';
import { freshSeed, Random } from './random';
import { relativeError } from './reference';
import { attentionBound, attentionReference } from './reference.model';
import { softmax } from './softmax';

const SHAPES = [
  { tokens: 1, heads: 1, kvHeads: 1, headDim: 1 },
  { tokens: 37, heads: 6, kvHeads: 2, headDim: 8 },
  { tokens: 70, heads: 4, kvHeads: 4, headDim: 13 },
  { tokens: 129, heads: 3, kvHeads: 1, headDim: 64 },
];

async function check(rt: GpuRuntime, shape: (typeof SHAPES)[number]) {
  const seed = freshSeed();
  const random = new Random(seed);
  const { tokens: T, heads: H, kvHeads: Hkv, headDim: D } = shape;
  const q = random.uniform(T * H * D, -2, 2);
  const k = random.uniform(T * Hkv * D, -2, 2);
  const v = random.uniform(T * Hkv * D);
  const up = async (data: Float32Array) => (await rt.upload('test', 'scratch', data)).buffer;
  const out = await up(new Float32Array(T * H * D).fill(Number.NaN));
  await scoresAttention(rt, { ...shape, q: await up(q), k: await up(k), v: await up(v), out });
  const error = relativeError(await rt.readF32(out), attentionReference({ ...shape, q, k, v }));
  // The same bound as the online-softmax kernel: its derivation covers any summation order.
  expect(error, `${JSON.stringify(shape)} seed ${seed}`).toBeLessThanOrEqual(attentionBound(T, D));
}

describe('attention through materialised scores', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
  });
  afterAll(() => rt.destroy());

  for (const shape of SHAPES)
    it(`matches the reference for ${JSON.stringify(shape)}`, () => check(rt, shape));

  it('agrees with the online-softmax kernel', async () => {
    const shape = { tokens: 45, heads: 4, kvHeads: 2, headDim: 16 };
    const random = new Random(freshSeed());
    const [q, k, v] = [4, 2, 2].map((h) => random.uniform(45 * h * 16));
    const up = async (data: Float32Array) => (await rt.upload('test', 'scratch', data)).buffer;
    const [qb, kb, vb] = [
      await up(q as Float32Array),
      await up(k as Float32Array),
      await up(v as Float32Array),
    ];
    const a = await up(new Float32Array(45 * 64));
    const b = await up(new Float32Array(45 * 64));
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
    const buffer = (await tiny.upload('scores', 'scratch', x)).buffer;
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
