import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { withNodeRuntime } from '../host/testRuntimes';
import { type AttentionArgs, attention } from './attention';
import { scoresAttention } from './attentionScores';
import { freshSeed, Random } from './random';
import { relativeError } from './reference';
import { attentionBound, attentionReference } from './reference.model';
import { poisoned, scratch } from './testing';

type Shape = Pick<AttentionArgs, 'tokens' | 'heads' | 'kvHeads' | 'headDim' | 'scale'>;

describe('causal attention', () => {
  let rt: GpuRuntime;
  withNodeRuntime((made) => {
    rt = made;
  });

  async function run(
    r: GpuRuntime,
    shape: Shape,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
  ): Promise<Float32Array> {
    const out = await poisoned(r, shape.tokens * shape.heads * shape.headDim);
    await attention(r, {
      ...shape,
      q: await scratch(r, q),
      k: await scratch(r, k),
      v: await scratch(r, v),
      out,
    });
    return r.readF32(out);
  }

  function inputs(shape: Shape, seed: number) {
    const random = new Random(seed);
    const { tokens: T, heads: H, kvHeads: Hkv, headDim: D } = shape;
    return { q: random.uniform(T * H * D), k: random.uniform(T * Hkv * D), v: random.uniform(T * Hkv * D) };
  }

  async function expectReference(r: GpuRuntime, shape: Shape, seed: number): Promise<Float32Array> {
    const { q, k, v } = inputs(shape, seed);
    const got = await run(r, shape, q, k, v);
    const reference = attentionReference({ ...shape, q, k, v });
    expect(relativeError(got, reference), JSON.stringify(shape)).toBeLessThanOrEqual(
      attentionBound(shape.tokens, shape.headDim),
    );
    return got;
  }

  it('maps query heads to kv heads as repeat_kv does, for every grouping', async () => {
    const [T, D, H] = [13, 8, 12];
    for (const kvHeads of [12, 6, 4, 3, 1]) {
      const shape = { tokens: T, heads: H, kvHeads, headDim: D };
      const { q, k, v } = inputs(shape, kvHeads);
      const got = await run(rt, shape, q, k, v);
      expect(
        relativeError(got, attentionReference({ ...shape, q, k, v })),
        `kvHeads ${kvHeads}`,
      ).toBeLessThanOrEqual(attentionBound(T, D));
      // Hugging Face's repeat_kv: kv head j serves query heads j·g … j·g + g − 1. Expanding k and v
      // that way and running plain multi-head attention must give the same bits.
      const group = H / kvHeads;
      const expand = (x: Float32Array) => {
        const out = new Float32Array(T * H * D);
        for (let t = 0; t < T; t++) {
          for (let h = 0; h < H; h++) {
            out.set(
              x.subarray(
                (t * kvHeads + Math.floor(h / group)) * D,
                (t * kvHeads + Math.floor(h / group) + 1) * D,
              ),
              (t * H + h) * D,
            );
          }
        }
        return out;
      };
      const mha = await run(rt, { ...shape, kvHeads: H }, q, expand(k), expand(v));
      expect(got).toEqual(mha);
    }
  });

  it('returns v itself for one token, and handles headDim 1', async () => {
    const shape = { tokens: 1, heads: 3, kvHeads: 1, headDim: 5 };
    const { q, k, v } = inputs(shape, 1);
    const got = await run(rt, shape, q, k, v);
    for (let h = 0; h < 3; h++) expect(got.subarray(h * 5, (h + 1) * 5)).toEqual(v);
    await expectReference(rt, { tokens: 29, heads: 2, kvHeads: 2, headDim: 1 }, 2);
  });

  it('never looks at future keys', async () => {
    const shape = { tokens: 70, heads: 2, kvHeads: 1, headDim: 8 };
    const { q, k, v } = inputs(shape, 3);
    const before = await run(rt, shape, q, k, v);
    // Change keys and values from token 40 on: outputs of queries 0..39 must not move a bit.
    const cut = 40 * 8;
    const k2 = k.slice();
    const v2 = v.slice();
    k2.fill(5, cut);
    v2.fill(-3, cut);
    const after = await run(rt, shape, q, k2, v2);
    expect(after.subarray(0, 40 * 2 * 8)).toEqual(before.subarray(0, 40 * 2 * 8));
    expect(after.subarray(40 * 2 * 8)).not.toEqual(before.subarray(40 * 2 * 8));
  });

  it('handles a long sequence of 300 tokens and a given scale', async () => {
    await expectReference(rt, { tokens: 300, heads: 4, kvHeads: 2, headDim: 16 }, 4);
    await expectReference(rt, { tokens: 67, heads: 2, kvHeads: 1, headDim: 24, scale: 0.3 }, 5);
  });

  it('carries the softmax state across key blocks of several chunks (8 KiB bindings)', async () => {
    // 8 KiB holds 1984 elements: q windows of 96 queries × 2 heads × 8, and k and v windows of
    // 192 keys × 8, three 64-key chunks each. Queries 192..299 take two dispatches, and their
    // running max, normaliser and unnormalised output cross between them.
    const small = await createNodeRuntime({ capLimits: { maxStorageBufferBindingSize: 8192 } });
    try {
      await expectReference(small, { tokens: 300, heads: 2, kvHeads: 1, headDim: 8 }, 6);
    } finally {
      small.destroy();
    }
  });

  it('keeps the windows of a batched pass apart, in both kernels, also when key blocks span windows', async () => {
    const seed = freshSeed();
    const [windows, seqLen] = [3, 30];
    const shape = { tokens: windows * seqLen, heads: 4, kvHeads: 2, headDim: 8 };
    const { q, k, v } = inputs(shape, seed);
    const per = (x: Float32Array, w: number) =>
      x.subarray((w * x.length) / windows, ((w + 1) * x.length) / windows);
    // 8 KiB bindings: key windows of 64 keys (the planner rounds to whole chunks), so the online
    // kernel's key sweeps cross windows.
    const small = await createNodeRuntime({ capLimits: { maxStorageBufferBindingSize: 8192 } });
    try {
      for (const [label, r, kernel] of [
        ['online', rt, attention],
        ['online, 8 KiB bindings', small, attention],
        ['materialised scores', rt, scoresAttention],
      ] as const) {
        const out = await poisoned(r, q.length);
        await kernel(r, {
          ...shape,
          seqLen,
          q: await scratch(r, q),
          k: await scratch(r, k),
          v: await scratch(r, v),
          out,
        });
        const got = await r.readF32(out);
        for (let w = 0; w < windows; w++) {
          const reference = attentionReference({
            ...shape,
            tokens: seqLen,
            q: per(q, w),
            k: per(k, w),
            v: per(v, w),
          });
          expect(
            relativeError(per(got, w), reference),
            `${label}, window ${w}, seed ${seed}`,
          ).toBeLessThanOrEqual(attentionBound(seqLen, shape.headDim));
        }
      }
    } finally {
      small.destroy();
    }
    const args = {
      ...shape,
      tokens: 10,
      q: await scratch(rt, new Float32Array(320)),
      k: await scratch(rt, new Float32Array(160)),
      v: await scratch(rt, new Float32Array(160)),
      out: await scratch(rt, new Float32Array(320)),
    };
    for (const kernel of [attention, scoresAttention]) {
      await expect(kernel(rt, { ...args, seqLen: 4 })).rejects.toThrow(
        /10 tokens are not whole windows of seqLen 4/,
      );
    }
  });

  it('names the argument that is wrong', async () => {
    const q = await scratch(rt, new Float32Array(4 * 4 * 8));
    const kv = await scratch(rt, new Float32Array(4 * 2 * 8));
    const out = await scratch(rt, new Float32Array(4 * 4 * 8));
    const base = { q, k: kv, v: kv, out, tokens: 4, heads: 4, kvHeads: 2, headDim: 8 };
    await expect(attention(rt, { ...base, kvHeads: 3 })).rejects.toThrow(
      /heads \(4\) must be a multiple of kvHeads \(3\)/,
    );
    await expect(attention(rt, { ...base, headDim: 257 })).rejects.toThrow(/headDim must be ≤ 256/);
    await expect(attention(rt, { ...base, tokens: 5 })).rejects.toThrow(
      /attention: q \(5×32.* needs 640 bytes/,
    );
    await expect(attention(rt, { ...base, kvHeads: 4 })).rejects.toThrow(/attention: k \(4×32/);
    await expect(attention(rt, { ...base, out: q })).rejects.toThrow(/out must be a different buffer from q/);
    await expect(attention(rt, { ...base, scale: Number.NaN })).rejects.toThrow(
      /scale must be a finite number/,
    );
  });
});
