// Rotary position embedding, in place on q or k laid out [tokens, heads, headDim] (tokens ld
// apart, so q and k can be column blocks of one fused qkv buffer). Token t is at position
// startPosition + t. Both pairings are supported and must be chosen explicitly, since a checkpoint
// only works with the one it was trained with: 'interleaved' pairs (2i, 2i + 1) (llama2.c, Meta's
// checkpoints, stories260K) and 'half' pairs (i, i + rotaryDim / 2) (Hugging Face's rotate_half).
// Hugging Face's conversion script permutes q and k weights so that the two agree.

import shader from '../../shaders/kernels/rope.wgsl?raw';
import { GpuLimitError } from '../gpu/errors';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { checkFinite, checkInteger, checkMatrix, checkSeqLen } from './operands';
import { foldGrid } from './params';
import { bindWindow, planBlocks, span, windowLimits } from './window';

export const ropeKernel = defineKernel({
  name: 'rope',
  code: shader,
  uniforms: {
    tokens: 'u32',
    heads: 'u32',
    head_dim: 'u32',
    half_rot: 'u32',
    ld: 'u32',
    off: 'u32',
    first_row: 'u32',
    seq_len: 'u32',
    start_position: 'u32',
    rate_hi: 'f32',
    rate_lo: 'f32',
  },
});

export type RopeConvention = 'interleaved' | 'half';

export interface RopeArgs {
  x: GPUBuffer;
  tokens: number;
  heads: number;
  headDim: number;
  convention: RopeConvention;
  /** Leading dimensions rotated in each head (even, ≤ headDim); default headDim. */
  rotaryDim?: number;
  /** Position of the first token; default 0. */
  startPosition?: number;
  /**
   * Tokens per window when `tokens` stacks several windows of one length (a batched pass): token t
   * is then at position startPosition + t mod seqLen. Default tokens (one window).
   */
  seqLen?: number;
  /** The base θ of the frequencies θ^(−2i/rotaryDim); default 10000. */
  theta?: number;
  /** Elements between consecutive tokens; default heads · headDim. */
  ld?: number;
  offset?: number;
}

/** The exponent rate = 2·log2(θ)/rotaryDim split so that i · hi is exact in f32 for i < 4096. */
export function ropeRate(theta: number, rotaryDim: number): { hi: number; lo: number } {
  const rate = (2 * Math.log2(theta)) / rotaryDim;
  const exponent = Math.floor(Math.log2(rate));
  const unit = 2 ** (exponent - 11);
  const hi = Math.round(rate / unit) * unit;
  return { hi, lo: Math.fround(rate - hi) };
}

export async function rope(rt: GpuRuntime, args: RopeArgs): Promise<void> {
  rt.submit(await ropeDispatches(rt, args));
}

export async function ropeDispatches(rt: GpuRuntime, args: RopeArgs): Promise<Dispatch[]> {
  const { tokens, heads, headDim, convention } = args;
  const rotaryDim = args.rotaryDim ?? headDim;
  const start = args.startPosition ?? 0;
  const theta = args.theta ?? 10000;
  const ld = args.ld ?? heads * headDim;
  const offset = args.offset ?? 0;
  const kernel = 'rope';
  if (convention !== 'interleaved' && convention !== 'half') {
    throw new RangeError(`rope: convention must be 'interleaved' or 'half', got ${convention}`);
  }
  checkInteger(kernel, 'tokens', tokens);
  checkInteger(kernel, 'heads', heads, 1);
  checkInteger(kernel, 'headDim', headDim, 2);
  checkInteger(kernel, 'rotaryDim', rotaryDim, 2);
  if (rotaryDim % 2 !== 0 || rotaryDim > headDim || rotaryDim > 8192) {
    throw new RangeError(
      `rope: rotaryDim must be even and ≤ headDim (${headDim}) and 8192, got ${rotaryDim}`,
    );
  }
  checkInteger(kernel, 'startPosition', start);
  const seqLen = checkSeqLen(kernel, tokens, args.seqLen);
  // Positions are converted to f32 in the shader, exactly only below 2^24.
  if (start + seqLen > 2 ** 24) {
    throw new RangeError(`rope: positions up to ${start + seqLen} exceed 2^24, where f32 stops being exact`);
  }
  checkFinite(kernel, 'theta', theta);
  if (!(theta > 1)) throw new RangeError(`rope: theta must be > 1, got ${theta}`);
  checkMatrix(kernel, 'x', args.x, tokens, heads * headDim, ld, offset);
  if (tokens === 0) return [];

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  if (rotaryDim > capacity) {
    throw new GpuLimitError(
      `rope: a head's ${rotaryDim} rotated elements do not fit one storage binding (${capacity} elements here)`,
    );
  }
  const half = rotaryDim / 2;
  // A block of tb tokens × hb heads spans up to the last rotated element of its last head.
  const block = planBlocks<'t' | 'h'>(
    { t: tokens, h: heads },
    [
      {
        measure: (b) => span(b.t, (b.h - 1) * headDim + rotaryDim, ld),
        limit: capacity,
        shrink: ['t', 'h'],
      },
      {
        measure: (b) => b.t * b.h * half,
        limit: Math.min(maxGroups * maxGroups * 256, 2 ** 31),
        shrink: ['t', 'h'],
      },
    ],
    1,
  );
  const rate = ropeRate(theta, rotaryDim);
  const pipeline = await ropeKernel.pipeline(rt, 'main', { HALF: Number(convention === 'half') });
  const dispatches: Dispatch[] = [];
  for (let t0 = 0; t0 < tokens; t0 += block.t) {
    const tb = Math.min(block.t, tokens - t0);
    for (let h0 = 0; h0 < heads; h0 += block.h) {
      const hb = Math.min(block.h, heads - h0);
      const x = bindWindow(
        args.x,
        offset + t0 * ld + h0 * headDim,
        span(tb, (hb - 1) * headDim + rotaryDim, ld),
        align,
      );
      dispatches.push({
        pipeline,
        uniforms: ropeKernel.pack({
          tokens: tb,
          heads: hb,
          head_dim: headDim,
          half_rot: half,
          ld,
          off: x.base,
          first_row: t0,
          seq_len: seqLen,
          start_position: start,
          rate_hi: rate.hi,
          rate_lo: rate.lo,
        }),
        storage: [x.binding],
        workgroups: foldGrid(Math.ceil((tb * hb * half) / 256), maxGroups),
      });
    }
  }
  return dispatches;
}
