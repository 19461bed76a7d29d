import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { withNodeRuntime } from '../host/testRuntimes';
import { attention } from './attention';
import { smallHeadAttention, smallHeadFits } from './attentionSmallHead';
import { attentionShapes, expectAttentionReference } from './attentionTesting';
import { freshSeed, Random } from './random';
import { relativeError } from './reference';
import { attentionBound, attentionReference } from './reference.model';
import { scratch } from './testing';

// The small-head kernel against the float64 reference, with the bound every attention kernel uses
// (its derivation covers any summation order): single tokens, every grouped-query grouping, odd
// widths up to the 32 limit, fused-qkv strides with offsets, and the windows of a batched pass.
describe('attention for small heads', () => {
  let rt: GpuRuntime;
  withNodeRuntime((made) => {
    rt = made;
  });

  for (const shape of attentionShapes(32)) {
    it(`matches the reference for ${JSON.stringify(shape)}`, () =>
      expectAttentionReference(rt, smallHeadAttention, shape));
  }

  it('reads q, k and v as column blocks of one fused buffer, windows of a pass apart', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const [windows, seqLen, heads, kvHeads, dim, pad] = [3, 21, 4, 2, 8, 5];
    const tokens = windows * seqLen;
    const ld = (heads + 2 * kvHeads) * dim + pad;
    const qkv = random.uniform(3 + tokens * ld, -2, 2);
    const out = await scratch(rt, new Float32Array(2 + tokens * heads * dim).fill(7));
    const shape = { tokens, seqLen, heads, kvHeads, headDim: dim, scale: 0.4 };
    const fused = await scratch(rt, qkv);
    await smallHeadAttention(rt, {
      ...shape,
      q: fused,
      k: fused,
      v: fused,
      out,
      ldQ: ld,
      ldK: ld,
      ldV: ld,
      offsetQ: 3,
      offsetK: 3 + heads * dim,
      offsetV: 3 + (heads + kvHeads) * dim,
      offsetOut: 2,
    });
    const got = await rt.readF32(out);
    expect([got[0], got[1]]).toEqual([7, 7]);
    const column = (t: number, first: number, width: number) =>
      qkv.subarray(3 + t * ld + first, 3 + t * ld + first + width);
    for (let w = 0; w < windows; w++) {
      const part = (first: number, width: number) => {
        const x = new Float32Array(seqLen * width);
        for (let t = 0; t < seqLen; t++) x.set(column(w * seqLen + t, first, width), t * width);
        return x;
      };
      const reference = attentionReference({
        ...shape,
        tokens: seqLen,
        q: part(0, heads * dim),
        k: part(heads * dim, kvHeads * dim),
        v: part((heads + kvHeads) * dim, kvHeads * dim),
      });
      const window = got.subarray(2 + w * seqLen * heads * dim, 2 + (w + 1) * seqLen * heads * dim);
      expect(relativeError(window, reference), `window ${w}, seed ${seed}`).toBeLessThanOrEqual(
        attentionBound(seqLen, dim),
      );
    }
  });

  it('agrees with the online-softmax kernel on the same pass', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const shape = { tokens: 48, seqLen: 16, heads: 2, kvHeads: 1, headDim: 16 };
    const q = await scratch(rt, random.uniform(48 * 2 * 16));
    const k = await scratch(rt, random.uniform(48 * 16));
    const v = await scratch(rt, random.uniform(48 * 16));
    const a = await scratch(rt, new Float32Array(48 * 2 * 16));
    const b = await scratch(rt, new Float32Array(48 * 2 * 16));
    await smallHeadAttention(rt, { ...shape, q, k, v, out: a });
    await attention(rt, { ...shape, q, k, v, out: b });
    const [x, y] = [await rt.readF32(a), await rt.readF32(b)];
    // Outputs are convex combinations of v's entries (|v| < 1): both within 1e-5 of each other.
    for (let i = 0; i < x.length; i++)
      expect(Math.abs((x[i] as number) - (y[i] as number)), `seed ${seed}`).toBeLessThan(1e-5);
  });

  it('says when it does not fit, and names the argument that is wrong', async () => {
    const q = await scratch(rt, new Float32Array(4 * 4 * 8));
    const kv = await scratch(rt, new Float32Array(4 * 2 * 8));
    const out = await scratch(rt, new Float32Array(4 * 4 * 8));
    const base = { q, k: kv, v: kv, out, tokens: 4, heads: 4, kvHeads: 2, headDim: 8 };
    expect(smallHeadFits({ ...base, headDim: 33 }, rt.limits)).toBe(false);
    expect(smallHeadFits(base, { ...rt.limits, maxStorageBufferBindingSize: 256 + 64 })).toBe(false);
    expect(smallHeadFits(base, rt.limits)).toBe(true);
    await expect(smallHeadAttention(rt, { ...base, headDim: 33 })).rejects.toThrow(
      /headDim must be ≤ 32, got 33/,
    );
    await expect(smallHeadAttention(rt, { ...base, kvHeads: 3 })).rejects.toThrow(/multiple of kvHeads/);
    await expect(smallHeadAttention(rt, { ...base, seqLen: 3 })).rejects.toThrow(/not whole windows/);
    await expect(smallHeadAttention(rt, { ...base, out: q })).rejects.toThrow(/different buffer from q/);
    await expect(smallHeadAttention(rt, { ...base, tokens: 5 })).rejects.toThrow(/attention: q \(5×32/);
  });
});
