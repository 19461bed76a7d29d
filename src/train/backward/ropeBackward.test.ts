import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { freshSeed, Random } from '../../kernels/random';
import { relativeError } from '../../kernels/reference';
import { ROPE_BOUND, type RopeRefOptions, ropeReference } from '../../kernels/reference.model';
import { rope } from '../../kernels/rope';
import { onCappedRuntime, sharedRuntime } from '../runtimeTesting';
import { centralDifferences, dot, gradientError } from './gradientCheck';
import { ropeBackward } from './ropeBackward';

// The gradient of L = Σ dy ⊙ rope(x) is checked against central differences of the float64
// forward reference (reference.model.ts ropeReference). RoPE is linear in x, so the differences are
// exact but for float64 rounding (≈ 1e-16·|L|/h); the bound is the forward kernel's ROPE_BOUND
// against the forward's scale taken at dy, (|dy_a| + |dy_b|)·(1 + pos·freq): the inverse rotation
// uses the same angle, sin, cos and the same four-product rotation.
interface Case {
  tokens: number;
  heads: number;
  headDim: number;
  options: RopeRefOptions & { convention: 'interleaved' | 'half'; theta?: number };
}
const CASES: Case[] = [
  { tokens: 1, heads: 1, headDim: 2, options: { convention: 'interleaved' } },
  { tokens: 13, heads: 3, headDim: 8, options: { convention: 'interleaved' } },
  { tokens: 13, heads: 3, headDim: 8, options: { convention: 'half' } },
  { tokens: 37, heads: 2, headDim: 14, options: { convention: 'half', rotaryDim: 10, startPosition: 100 } },
  {
    tokens: 70,
    heads: 4,
    headDim: 16,
    options: { convention: 'interleaved', theta: 500000, startPosition: 3 },
  },
];
const H = 2 ** -10;

describe('RoPE backward', () => {
  const gpu = sharedRuntime();

  async function check(r: GpuRuntime, c: Case, pad = 0) {
    const seed = freshSeed();
    const random = new Random(seed);
    const { tokens: T, heads, headDim } = c;
    const width = heads * headDim;
    const x = random.uniform(T * width);
    const dy = random.uniform(T * width);
    // dy as a column block of a wider buffer (q inside a fused qkv), `pad` columns in from the left.
    const ld = width + 2 * pad;
    const stored = new Float32Array(T * ld).fill(Number.NaN);
    for (let t = 0; t < T; t++) stored.set(dy.subarray(t * width, (t + 1) * width), t * ld + pad);
    const buffer = (await r.upload('ropeBackward test', 'scratch', stored)).buffer;
    await ropeBackward(r, { ...c.options, x: buffer, tokens: T, heads, headDim, ld, offset: pad });
    const all = await r.readF32(buffer);
    const gpu = new Float32Array(T * width);
    for (let t = 0; t < T; t++) {
      gpu.set(all.subarray(t * ld + pad, t * ld + pad + width), t * width);
      for (const i of [...Array(pad).keys()].flatMap((j) => [t * ld + j, t * ld + pad + width + j])) {
        expect(all[i], 'the columns around the block are untouched').toBeNaN();
      }
    }
    // Token t's terms of L depend on its row of x alone, at position startPosition + t.
    const want = new Float64Array(T * width);
    for (let t = 0; t < T; t++) {
      const options = { ...c.options, startPosition: (c.options.startPosition ?? 0) + t };
      const row = dy.subarray(t * width, (t + 1) * width);
      const d = centralDifferences(
        (v) => dot(row, ropeReference(v, 1, heads, headDim, options).value),
        x.slice(t * width, (t + 1) * width),
        H,
      );
      want.set(d.grad, t * width);
    }
    const scale = ropeReference(dy, T, heads, headDim, c.options).scale;
    expect(gradientError(gpu, want, { scale }), `${JSON.stringify(c)} seed ${seed}`).toBeLessThanOrEqual(
      ROPE_BOUND,
    );
  }

  for (const c of CASES)
    it(`matches differences of the forward for ${JSON.stringify(c)}`, () => check(gpu.rt, c));
  it('works on a column block of a wider buffer', () =>
    check(gpu.rt, { tokens: 11, heads: 2, headDim: 6, options: { convention: 'half' } }, 5));

  it('undoes the forward rotation', async () => {
    const random = new Random(freshSeed());
    const x = random.uniform(29 * 3 * 12);
    const buffer = (await gpu.rt.upload('ropeBackward test', 'scratch', x)).buffer;
    for (const convention of ['interleaved', 'half'] as const) {
      gpu.rt.write(buffer, x);
      const args = { x: buffer, tokens: 29, heads: 3, headDim: 12, convention, startPosition: 1000 };
      await rope(gpu.rt, args);
      await ropeBackward(gpu.rt, args);
      // Two rotations, each within ROPE_BOUND of exact against scales of (|a| + |b|)(1 + angle).
      const scale = ropeReference(x, 29, 3, 12, { convention, startPosition: 1000 }).scale;
      expect(
        relativeError(await gpu.rt.readF32(buffer), { value: Float64Array.from(x), scale }),
      ).toBeLessThanOrEqual(2 * ROPE_BOUND);
    }
  });

  it('windows under a tiny binding limit', async () => {
    await onCappedRuntime(
      { maxStorageBufferBindingSize: 512, maxComputeWorkgroupsPerDimension: 2 },
      async (tiny) => {
        await check(tiny, { tokens: 23, heads: 3, headDim: 10, options: { convention: 'half' } }, 1);
      },
    );
  });

  it('rejects bad arguments with the forward checks', async () => {
    const b = (await gpu.rt.upload('t', 'scratch', new Float32Array(10))).buffer;
    await expect(
      ropeBackward(gpu.rt, { x: b, tokens: 2, heads: 1, headDim: 6, convention: 'half' }),
    ).rejects.toThrow(/needs 48 bytes/);
    await expect(
      ropeBackward(gpu.rt, { x: b, tokens: 1, heads: 1, headDim: 4, convention: 'odd' as 'half' }),
    ).rejects.toThrow(RangeError);
  });
});
