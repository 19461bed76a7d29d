// The check the attention kernels' tests share: random q, k and v for a shape from a fresh seed,
// the kernel on the GPU, and the float64 reference within attentionBound, whose derivation covers
// any summation order, so every kernel meets the same bound.

import { expect } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import type { AttentionArgs } from './attention';
import { freshSeed, Random } from './random';
import { relativeError } from './reference';
import { attentionBound, attentionReference } from './reference.model';
import { poisoned, scratch } from './testing';

export type AttentionKernel = (rt: GpuRuntime, args: AttentionArgs) => Promise<void>;
export type AttentionShape = Pick<AttentionArgs, 'tokens' | 'heads' | 'kvHeads' | 'headDim'>;

/**
 * The shapes every attention kernel's test meets: one token of width 1, grouped-query heads, an odd
 * head width with as many kv heads as query heads, and a long sequence at `widestHead`, the widest
 * head the kernel takes.
 */
export function attentionShapes(widestHead: number): AttentionShape[] {
  return [
    { tokens: 1, heads: 1, kvHeads: 1, headDim: 1 },
    { tokens: 37, heads: 6, kvHeads: 2, headDim: 8 },
    { tokens: 70, heads: 4, kvHeads: 4, headDim: 13 },
    { tokens: 129, heads: 3, kvHeads: 1, headDim: widestHead },
  ];
}

/** Runs `kernel` on random inputs of `shape` and expects the reference within the bound. */
export async function expectAttentionReference(
  rt: GpuRuntime,
  kernel: AttentionKernel,
  shape: AttentionShape,
): Promise<void> {
  const seed = freshSeed();
  const random = new Random(seed);
  const { tokens: T, heads: H, kvHeads: Hkv, headDim: D } = shape;
  const q = random.uniform(T * H * D, -2, 2);
  const k = random.uniform(T * Hkv * D, -2, 2);
  const v = random.uniform(T * Hkv * D);
  const out = await poisoned(rt, T * H * D);
  await kernel(rt, {
    ...shape,
    q: await scratch(rt, q),
    k: await scratch(rt, k),
    v: await scratch(rt, v),
    out,
  });
  const error = relativeError(await rt.readF32(out), attentionReference({ ...shape, q, k, v }));
  expect(error, `${JSON.stringify(shape)} seed ${seed}`).toBeLessThanOrEqual(attentionBound(T, D));
}
