import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { withNodeRuntime } from '../host/testRuntimes';
import { type AttentionArgs, attention } from './attention';
import { scoresAttention } from './attentionScores';
import { smallHeadAttention } from './attentionSmallHead';
import { freshSeed, Random } from './random';
import { relativeError } from './reference';
import { attentionBound, attentionReference } from './reference.model';
import { poisoned, scratch } from './testing';

// Attention with a query offset (queryStart), as generation with a KV cache calls it: the last
// `tokens` query rows of a sequence of `keys` positions, against every cached key. The float64
// reference runs the whole sequence causally and keeps its last rows; the bound is every attention
// kernel's, at the sequence's length. Shapes are awkward on purpose: one query (decode) and several
// (a prefill continuing a cache), primes, every grouped-query grouping, key counts that do not
// divide the online kernel's 64-key chunks, and bindings small enough to split queries and keys.

type Kernel = (rt: GpuRuntime, args: AttentionArgs) => Promise<void>;
interface Shape {
  keys: number;
  tokens: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

let rt: GpuRuntime;
withNodeRuntime((made) => {
  rt = made;
});

async function check(r: GpuRuntime, kernel: Kernel, shape: Shape): Promise<void> {
  const seed = freshSeed();
  const random = new Random(seed);
  const { keys, tokens, heads: H, kvHeads: Hkv, headDim: D } = shape;
  const start = keys - tokens;
  const q = random.uniform(keys * H * D, -2, 2);
  const k = random.uniform(keys * Hkv * D, -2, 2);
  const v = random.uniform(keys * Hkv * D);
  // The cache is larger than the positions filled so far, as it is during generation.
  const cacheK = new Float32Array((keys + 3) * Hkv * D).fill(Number.NaN);
  const cacheV = cacheK.slice();
  cacheK.set(k);
  cacheV.set(v);
  const out = await poisoned(r, tokens * H * D);
  await kernel(r, {
    q: await scratch(r, q.slice(start * H * D)),
    k: await scratch(r, cacheK),
    v: await scratch(r, cacheV),
    out,
    tokens,
    heads: H,
    kvHeads: Hkv,
    headDim: D,
    queryStart: start,
  });
  const full = attentionReference({ q, k, v, tokens: keys, heads: H, kvHeads: Hkv, headDim: D });
  const last = {
    value: full.value.subarray(start * H * D),
    scale: full.scale.subarray(start * H * D),
  };
  expect(
    relativeError(await r.readF32(out), last),
    `${JSON.stringify(shape)}, seed ${seed}`,
  ).toBeLessThanOrEqual(attentionBound(keys, D));
}

const SHAPES: Shape[] = [
  { keys: 1, tokens: 1, heads: 1, kvHeads: 1, headDim: 1 },
  { keys: 23, tokens: 1, heads: 6, kvHeads: 2, headDim: 8 },
  { keys: 131, tokens: 1, heads: 4, kvHeads: 1, headDim: 13 },
  { keys: 70, tokens: 5, heads: 3, kvHeads: 3, headDim: 32 },
];

describe('attention with a query offset (KV cache)', () => {
  for (const shape of SHAPES) {
    it(`small heads: ${JSON.stringify(shape)}`, () => check(rt, smallHeadAttention, shape));
    it(`online softmax: ${JSON.stringify(shape)}`, () => check(rt, attention, shape));
  }

  it('online softmax with heads wider than the small-head kernel takes', () =>
    check(rt, attention, { keys: 97, tokens: 2, heads: 4, kvHeads: 2, headDim: 40 }));

  it('online softmax across key and query blocks (8 KiB bindings)', async () => {
    // 8 KiB holds 1984 elements: k and v windows of 192 keys × 8 (three 64-key chunks), so 300 keys
    // take two dispatches whose softmax state crosses between them; 130 queries × 2 heads × 8 do
    // not fit one q binding either, so the query rows split too, each block at its own position.
    const small = await createNodeRuntime({ capLimits: { maxStorageBufferBindingSize: 8192 } });
    try {
      await check(small, attention, { keys: 300, tokens: 130, heads: 2, kvHeads: 1, headDim: 8 });
      await check(small, attention, { keys: 300, tokens: 1, heads: 2, kvHeads: 1, headDim: 8 });
    } finally {
      small.destroy();
    }
  });

  it('refuses an offset with windows, offsets the scores cannot take, and a cache too short', async () => {
    const base = {
      q: await scratch(rt, new Float32Array(2 * 4 * 8)),
      k: await scratch(rt, new Float32Array(5 * 2 * 8)),
      v: await scratch(rt, new Float32Array(5 * 2 * 8)),
      out: await scratch(rt, new Float32Array(2 * 4 * 8)),
      tokens: 2,
      heads: 4,
      kvHeads: 2,
      headDim: 8,
      queryStart: 3,
    };
    await expect(attention(rt, { ...base, seqLen: 2 })).rejects.toThrow(/query offset .* leave seqLen out/);
    await expect(smallHeadAttention(rt, { ...base, queryStart: 1.5 })).rejects.toThrow(/queryStart/);
    await expect(scoresAttention(rt, base)).rejects.toThrow(/take no query offset/);
    await expect(attention(rt, { ...base, queryStart: 4 })).rejects.toThrow(/attention: k \(6×16/);
  });
});
