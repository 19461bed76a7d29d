import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { withNodeRuntime } from '../host/testRuntimes';
import { freshSeed, Random } from './random';
import { F32_EPS, relativeError } from './reference';
import { ROPE_BOUND, ropeReference } from './reference.model';
import { type RopeArgs, rope, ropeRate } from './rope';
import { scratch } from './testing';

// The two pairings checked against the formulas of the code they come from, written out here
// independently of reference.model.ts, and against each other through Hugging Face's permutation.
describe('rotary position embedding', () => {
  let rt: GpuRuntime;
  withNodeRuntime((made) => {
    rt = made;
  });

  async function run(x: Float32Array, args: Omit<RopeArgs, 'x'>): Promise<Float32Array> {
    const buffer = await scratch(rt, x);
    await rope(rt, { ...args, x: buffer });
    return rt.readF32(buffer);
  }

  /** llama2.c run.c: for (i = 0; i < dim; i += 2) { freq = 1 / 10000^((i % head_size) / head_size); … } */
  function llama2c(
    x: Float32Array,
    tokens: number,
    heads: number,
    headSize: number,
    start: number,
  ): Reference64 {
    const out = Float64Array.from(x);
    for (let t = 0; t < tokens; t++) {
      for (let i = 0; i < heads * headSize; i += 2) {
        const headDim = i % headSize;
        const val = (start + t) * (1 / 10000 ** (headDim / headSize));
        const [fcr, fci] = [Math.cos(val), Math.sin(val)];
        const o = t * heads * headSize + i;
        const [v0, v1] = [x[o] as number, x[o + 1] as number];
        out[o] = v0 * fcr - v1 * fci;
        out[o + 1] = v0 * fci + v1 * fcr;
      }
    }
    return out;
  }

  /** Hugging Face: q·cos + rotate_half(q)·sin, cos = cat(freqs, freqs), rotate_half(q) = cat(−q2, q1). */
  function rotateHalf(
    x: Float32Array,
    tokens: number,
    heads: number,
    dim: number,
    start: number,
  ): Reference64 {
    const out = Float64Array.from(x);
    const half = dim / 2;
    for (let t = 0; t < tokens; t++) {
      for (let h = 0; h < heads; h++) {
        const o = (t * heads + h) * dim;
        for (let d = 0; d < dim; d++) {
          const invFreq = 1 / 10000 ** ((2 * (d % half)) / dim);
          const angle = (start + t) * invFreq;
          const rotated = d < half ? -(x[o + d + half] as number) : (x[o + d - half] as number);
          out[o + d] = (x[o + d] as number) * Math.cos(angle) + rotated * Math.sin(angle);
        }
      }
    }
    return out;
  }

  type Reference64 = Float64Array;

  /** max |gpu − formula| in units of ε · (1 + largest angle) · max|x|: the bound's own measure. */
  function formulaError(gpu: Float32Array, formula: Reference64, maxAngle: number): number {
    let worst = 0;
    for (let i = 0; i < gpu.length; i++)
      worst = Math.max(worst, Math.abs((gpu[i] as number) - (formula[i] as number)));
    return worst / (2 * (1 + maxAngle));
  }

  it("'interleaved' is llama2.c's rotation and 'half' is Hugging Face's rotate_half", async () => {
    const [tokens, heads, dim, start] = [9, 3, 32, 1000];
    const x = new Random(5).uniform(tokens * heads * dim);
    const maxAngle = start + tokens;
    const interleaved = await run(x, {
      tokens,
      heads,
      headDim: dim,
      convention: 'interleaved',
      startPosition: start,
    });
    expect(formulaError(interleaved, llama2c(x, tokens, heads, dim, start), maxAngle)).toBeLessThanOrEqual(
      ROPE_BOUND,
    );
    const half = await run(x, { tokens, heads, headDim: dim, convention: 'half', startPosition: start });
    expect(formulaError(half, rotateHalf(x, tokens, heads, dim, start), maxAngle)).toBeLessThanOrEqual(
      ROPE_BOUND,
    );
    // The two differ: a swapped convention would not pass both.
    expect(formulaError(half, llama2c(x, tokens, heads, dim, start), maxAngle)).toBeGreaterThan(1e-3);
  });

  it('agrees exactly across the permutation that converts Meta checkpoints to Hugging Face', async () => {
    const [tokens, heads, dim] = [6, 2, 16];
    const x = new Random(9).uniform(tokens * heads * dim);
    // Per head, [x0, x2, x4, …, x1, x3, …]: pair (2i, 2i + 1) becomes pair (i, i + dim/2).
    const permute = (v: Float32Array) => {
      const out = new Float32Array(v.length);
      for (let o = 0; o < v.length; o += dim) {
        for (let i = 0; i < dim / 2; i++) {
          out[o + i] = v[o + 2 * i] as number;
          out[o + i + dim / 2] = v[o + 2 * i + 1] as number;
        }
      }
      return out;
    };
    const args = { tokens, heads, headDim: dim, startPosition: 3 };
    const interleaved = await run(x, { ...args, convention: 'interleaved' });
    const half = await run(permute(x), { ...args, convention: 'half' });
    expect(half).toEqual(permute(interleaved));
  });

  it('rotates only the first rotaryDim dimensions, of a q block inside a fused qkv row', async () => {
    const [tokens, heads, kvHeads, dim, rot] = [5, 2, 1, 24, 8];
    const ld = (heads + 2 * kvHeads) * dim;
    const qkv = new Random(2).uniform(1 + tokens * ld);
    const got = await run(qkv, {
      tokens,
      heads,
      headDim: dim,
      rotaryDim: rot,
      convention: 'half',
      ld,
      offset: 1,
    });
    const q = new Float32Array(tokens * heads * dim);
    const gotQ = new Float32Array(tokens * heads * dim);
    for (let t = 0; t < tokens; t++) {
      q.set(qkv.subarray(1 + t * ld, 1 + t * ld + heads * dim), t * heads * dim);
      gotQ.set(got.subarray(1 + t * ld, 1 + t * ld + heads * dim), t * heads * dim);
      // k and v are untouched.
      expect(got.subarray(1 + t * ld + heads * dim, 1 + (t + 1) * ld)).toEqual(
        qkv.subarray(1 + t * ld + heads * dim, 1 + (t + 1) * ld),
      );
    }
    expect(got[0]).toBe(qkv[0]);
    const reference = ropeReference(q, tokens, heads, dim, { convention: 'half', rotaryDim: rot });
    expect(relativeError(gotQ, reference)).toBeLessThanOrEqual(ROPE_BOUND);
    for (let r = 0; r < tokens * heads; r++) {
      expect(gotQ.subarray(r * dim + rot, (r + 1) * dim)).toEqual(q.subarray(r * dim + rot, (r + 1) * dim));
    }
  });

  it('continues a sequence from startPosition exactly as the whole sequence does', async () => {
    const [tokens, heads, dim] = [12, 2, 8];
    const x = new Random(4).uniform(tokens * heads * dim);
    const whole = await run(x, { tokens, heads, headDim: dim, convention: 'interleaved' });
    const tail = await run(x.subarray(5 * heads * dim), {
      tokens: tokens - 5,
      heads,
      headDim: dim,
      convention: 'interleaved',
      startPosition: 5,
    });
    expect(tail).toEqual(whole.subarray(5 * heads * dim));
  });

  it('restarts positions in every window of a batched pass, also when blocks cut windows', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const [windows, seqLen, heads, dim] = [3, 7, 3, 10];
    const x = random.uniform(windows * seqLen * heads * dim);
    // 512-byte bindings (less the 256-byte offset alignment) hold about two tokens of 30 elements,
    // so blocks start inside windows.
    const tiny = await createNodeRuntime({ capLimits: { maxStorageBufferBindingSize: 512 } });
    try {
      for (const [runtime, label] of [
        [rt, 'one block'],
        [tiny, 'blocks of one token'],
      ] as const) {
        const buffer = await scratch(runtime, x);
        const args = { x: buffer, heads, headDim: dim, convention: 'half' as const, startPosition: 2 };
        await rope(runtime, { ...args, tokens: windows * seqLen, seqLen });
        const got = await runtime.readF32(buffer);
        for (let w = 0; w < windows; w++) {
          const one = await run(x.slice(w * seqLen * heads * dim, (w + 1) * seqLen * heads * dim), {
            tokens: seqLen,
            heads,
            headDim: dim,
            convention: 'half',
            startPosition: 2,
          });
          expect(
            got.subarray(w * seqLen * heads * dim, (w + 1) * seqLen * heads * dim),
            `${label}, seed ${seed}`,
          ).toEqual(one);
        }
      }
    } finally {
      tiny.destroy();
    }
    await expect(
      rope(rt, {
        x: await scratch(rt, x),
        tokens: 20,
        seqLen: 7,
        heads,
        headDim: dim,
        convention: 'half',
      }),
    ).rejects.toThrow(/20 tokens are not whole windows of seqLen 7/);
  });

  it('keeps the angle error proportional to position · frequency at position 100 000', async () => {
    const [tokens, heads, dim, start] = [3, 1, 64, 100_000];
    const x = new Random(8).uniform(tokens * heads * dim);
    for (const convention of ['interleaved', 'half'] as const) {
      const got = await run(x, { tokens, heads, headDim: dim, convention, startPosition: start });
      const reference = ropeReference(x, tokens, heads, dim, { convention, startPosition: start });
      expect(relativeError(got, reference), convention).toBeLessThanOrEqual(ROPE_BOUND);
    }
  });

  it('splits the exponent rate so that i · hi is exact', () => {
    for (const [theta, rot] of [
      [10000, 64],
      [10000, 2],
      [500000, 128],
      [1e6, 8192],
    ] as const) {
      const { hi, lo } = ropeRate(theta, rot);
      expect(Math.fround(hi)).toBe(hi);
      expect(Math.fround(4095 * hi)).toBe(4095 * hi);
      // lo carries the bits below hi's 12 (|lo| ≤ 2^-12 · rate) to f32 precision.
      const rate = (2 * Math.log2(theta)) / rot;
      expect(Math.abs(hi + lo - rate)).toBeLessThanOrEqual(F32_EPS * 2 ** -12 * rate);
    }
  });

  it('names the argument that is wrong', async () => {
    const x = await scratch(rt, new Float32Array(64));
    const base = { x, tokens: 4, heads: 2, headDim: 8, convention: 'half' as const };
    await expect(rope(rt, { ...base, rotaryDim: 5 })).rejects.toThrow(/rotaryDim must be even/);
    await expect(rope(rt, { ...base, rotaryDim: 10 })).rejects.toThrow(
      /rotaryDim must be even and ≤ headDim \(8\)/,
    );
    await expect(rope(rt, { ...base, tokens: 5 })).rejects.toThrow(/rope: x \(5×16.* needs 320 bytes/);
    await expect(rope(rt, { ...base, theta: 1 })).rejects.toThrow(/theta must be > 1/);
    await expect(rope(rt, { ...base, startPosition: 2 ** 24 })).rejects.toThrow(/exceed 2\^24/);
    await expect(rope(rt, { ...base, convention: 'neox' as 'half' })).rejects.toThrow(/convention must be/);
  });
});
