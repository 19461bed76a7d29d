// Causal scaled-dot-product attention with grouped-query attention (GQA): q is [tokens, heads,
// headDim], k and v are [tokens, kvHeads, headDim], query head h reads kv head floor(h / (heads /
// kvHeads)) (multi-head attention when kvHeads = heads, multi-query when kvHeads = 1). Each operand
// has its own leading dimension and offset, so q, k and v can be column blocks of one fused qkv
// buffer. The softmax is computed online (attention.wgsl), so memory stays O(tokens · heads ·
// headDim) for any sequence length.
//
// When q, k, v or out do not fit one storage binding, queries, heads and keys are split into
// blocks; a query whose keys span several key blocks carries its softmax state (running max and
// normaliser) between dispatches in a scratch buffer of 2 floats per (query, head).

import shader from '../../shaders/kernels/attention.wgsl?raw';
import { GpuLimitError } from '../gpu/errors';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { checkDistinct, checkFinite, checkInteger, checkMatrix, checkSeqLen } from './operands';
import { foldGrid } from './params';
import { bindWindow, planBlocks, span, windowCapacity } from './window';

const attentionKernel = defineKernel({
  name: 'attention',
  code: shader,
  uniforms: {
    tokens: 'u32',
    heads: 'u32',
    head_dim: 'u32',
    group: 'u32',
    first_token: 'u32',
    first_head: 'u32',
    first_kv_head: 'u32',
    key_begin: 'u32',
    key_end: 'u32',
    ld_q: 'u32',
    ld_k: 'u32',
    ld_v: 'u32',
    ld_out: 'u32',
    ld_state: 'u32',
    off_q: 'u32',
    off_k: 'u32',
    off_v: 'u32',
    off_out: 'u32',
    off_state: 'u32',
    seq_len: 'u32',
    scale: 'f32',
  },
});

/** The largest headDim: one workgroup of 256 invocations holds one query row. */
export const ATTENTION_MAX_HEAD_DIM = 256;

/** Keys scored per step of a workgroup (must match attention.wgsl). */
const CHUNK = 64;

export interface AttentionArgs {
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  out: GPUBuffer;
  tokens: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /**
   * Tokens per window when `tokens` stacks several windows of one length (a batched pass): each
   * window attends only to itself, causally. Default tokens (one window).
   */
  seqLen?: number;
  /**
   * Absolute position of the first query row, for generation with a KV cache: k and v then hold
   * queryStart + tokens rows (every position so far), and query row t, at position
   * queryStart + t, sees keys 0..queryStart + t. One window: seqLen must be left out. Default 0.
   * Taken by `attention` and `smallHeadAttention`, not by the materialised scores.
   */
  queryStart?: number;
  /** Multiplies q · k; default 1/sqrt(headDim). */
  scale?: number;
  /** Elements between consecutive tokens; default heads · headDim for q and out, kvHeads · headDim for k and v. */
  ldQ?: number;
  ldK?: number;
  ldV?: number;
  ldOut?: number;
  offsetQ?: number;
  offsetK?: number;
  offsetV?: number;
  offsetOut?: number;
}

/** An attention call's operands with every default filled in, checked. */
export interface AttentionOperands {
  /** Window length in positions: with a query offset, the one window of every key. */
  seqLen: number;
  queryStart: number;
  /** Rows of k and v: queryStart + tokens. */
  keys: number;
  scale: number;
  ldQ: number;
  ldK: number;
  ldV: number;
  ldOut: number;
  offQ: number;
  offK: number;
  offV: number;
  offOut: number;
}

/** The four leading dimensions, defaults filled in: packed [tokens, heads, headDim] rows. */
export function attentionLayout(
  args: AttentionArgs,
): Pick<AttentionOperands, 'ldQ' | 'ldK' | 'ldV' | 'ldOut'> {
  const { heads, kvHeads, headDim } = args;
  return {
    ldQ: args.ldQ ?? heads * headDim,
    ldK: args.ldK ?? kvHeads * headDim,
    ldV: args.ldV ?? kvHeads * headDim,
    ldOut: args.ldOut ?? heads * headDim,
  };
}

/**
 * Checks the arguments every attention kernel shares (shapes, grouping, windows, scale, the four
 * matrices inside their buffers, out distinct from the inputs) and fills in the defaults; the
 * widest head the calling kernel takes is `maxHeadDim`.
 */
export function attentionOperands(args: AttentionArgs, maxHeadDim: number): AttentionOperands {
  const { tokens, heads, kvHeads, headDim } = args;
  const kernel = 'attention';
  checkInteger(kernel, 'tokens', tokens);
  checkInteger(kernel, 'heads', heads, 1);
  checkInteger(kernel, 'kvHeads', kvHeads, 1);
  checkInteger(kernel, 'headDim', headDim, 1);
  if (heads % kvHeads !== 0) {
    throw new RangeError(`attention: heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
  }
  if (headDim > maxHeadDim) {
    throw new RangeError(`attention: headDim must be ≤ ${maxHeadDim}, got ${headDim}`);
  }
  const queryStart = args.queryStart ?? 0;
  checkInteger(kernel, 'queryStart', queryStart);
  if (queryStart > 0 && args.seqLen !== undefined) {
    throw new RangeError('attention: a query offset (queryStart) takes one window; leave seqLen out');
  }
  const keys = queryStart + tokens;
  // With a query offset the kernels see one window holding every key: positions below keys.
  const seqLen = queryStart > 0 ? keys : checkSeqLen(kernel, tokens, args.seqLen);
  const scale = args.scale ?? 1 / Math.sqrt(headDim);
  checkFinite(kernel, 'scale', scale);
  const o: AttentionOperands = {
    seqLen,
    queryStart,
    keys,
    scale,
    ...attentionLayout(args),
    offQ: args.offsetQ ?? 0,
    offK: args.offsetK ?? 0,
    offV: args.offsetV ?? 0,
    offOut: args.offsetOut ?? 0,
  };
  checkMatrix(kernel, 'q', args.q, tokens, heads * headDim, o.ldQ, o.offQ);
  checkMatrix(kernel, 'k', args.k, keys, kvHeads * headDim, o.ldK, o.offK);
  checkMatrix(kernel, 'v', args.v, keys, kvHeads * headDim, o.ldV, o.offV);
  checkMatrix(kernel, 'out', args.out, tokens, heads * headDim, o.ldOut, o.offOut);
  checkDistinct(kernel, ['out', args.out], ['q', args.q], ['k', args.k], ['v', args.v]);
  return o;
}

export async function attention(rt: GpuRuntime, args: AttentionArgs): Promise<void> {
  const { tokens, heads, kvHeads, headDim } = args;
  const { seqLen, queryStart, keys, scale, ldQ, ldK, ldV, ldOut, offQ, offK, offV, offOut } =
    attentionOperands(args, ATTENTION_MAX_HEAD_DIM);
  if (tokens === 0) return;

  const limits = rt.limits;
  const align = limits.minStorageBufferOffsetAlignment;
  const capacity = windowCapacity(limits.maxStorageBufferBindingSize, align);
  const maxGroups = limits.maxComputeWorkgroupsPerDimension;
  if (headDim > capacity) {
    throw new GpuLimitError(
      `attention: one head of ${headDim} elements does not fit one storage binding (${capacity} elements here)`,
    );
  }
  const group = heads / kvHeads;
  // The most kv heads a run of hb consecutive query heads can touch, whatever its alignment.
  const kvSpan = (hb: number) => Math.min(kvHeads, Math.ceil((hb - 1) / group) + 1);
  const block = planBlocks<'t' | 'h' | 'j'>(
    { t: tokens, h: heads, j: keys },
    [
      { measure: (b) => span(b.t, b.h * headDim, ldQ), limit: capacity, shrink: ['t', 'h'] },
      { measure: (b) => span(b.t, b.h * headDim, ldOut), limit: capacity, shrink: ['t', 'h'] },
      { measure: (b) => span(b.t, b.h * 2, heads * 2), limit: capacity, shrink: ['t', 'h'] },
      { measure: (b) => span(b.j, kvSpan(b.h) * headDim, ldK), limit: capacity, shrink: ['j', 'h'] },
      { measure: (b) => span(b.j, kvSpan(b.h) * headDim, ldV), limit: capacity, shrink: ['j', 'h'] },
      // One workgroup per (query, head) of a block.
      { measure: (b) => b.t * b.h, limit: maxGroups * maxGroups, shrink: ['t', 'h'] },
    ],
    CHUNK,
  );
  const split = block.j < keys;
  const state = await rt.createBuffer('attention softmax state', 'scratch', split ? tokens * heads * 8 : 16);
  try {
    const pipeline = await attentionKernel.pipeline(rt);
    const dispatches: Dispatch[] = [];
    for (let t0 = 0; t0 < tokens; t0 += block.t) {
      const tb = Math.min(block.t, tokens - t0);
      for (let h0 = 0; h0 < heads; h0 += block.h) {
        const hb = Math.min(block.h, heads - h0);
        const kvFirst = Math.floor(h0 / group);
        const kvCount = Math.floor((h0 + hb - 1) / group) - kvFirst + 1;
        const q = bindWindow(args.q, offQ + t0 * ldQ + h0 * headDim, span(tb, hb * headDim, ldQ), align);
        const out = bindWindow(
          args.out,
          offOut + t0 * ldOut + h0 * headDim,
          span(tb, hb * headDim, ldOut),
          align,
        );
        const st = split
          ? bindWindow(state.buffer, (t0 * heads + h0) * 2, span(tb, hb * 2, heads * 2), align)
          : { binding: state.buffer, base: 0 };
        const workgroups = foldGrid(tb * hb, maxGroups);
        // Keys before the window of the block's first query, and past its last query, are never
        // needed. Positions are absolute: the shader's first_token is only ever a position.
        const first = queryStart + t0;
        const keyEnd = first + tb;
        for (let j0 = first - (first % seqLen); j0 < keyEnd; j0 += block.j) {
          const jb = Math.min(block.j, keyEnd - j0);
          const kFirst = offK + j0 * ldK + kvFirst * headDim;
          const vFirst = offV + j0 * ldV + kvFirst * headDim;
          const k = bindWindow(args.k, kFirst, span(jb, kvCount * headDim, ldK), align);
          const v = bindWindow(args.v, vFirst, span(jb, kvCount * headDim, ldV), align);
          dispatches.push({
            pipeline,
            uniforms: attentionKernel.pack({
              tokens: tb,
              heads: hb,
              head_dim: headDim,
              group,
              first_token: first,
              first_head: h0,
              first_kv_head: kvFirst,
              key_begin: j0,
              key_end: j0 + jb,
              ld_q: ldQ,
              ld_k: ldK,
              ld_v: ldV,
              ld_out: ldOut,
              ld_state: heads * 2,
              off_q: q.base,
              off_k: k.base,
              off_v: v.base,
              off_out: out.base,
              off_state: st.base,
              seq_len: seqLen,
              scale,
            }),
            storage: [q.binding, k.binding, v.binding, out.binding, st.binding],
            workgroups,
          });
        }
      }
    }
    rt.submit(dispatches);
  } finally {
    // Safe right after submit: the implementation keeps the memory until the work is done.
    state.destroy();
  }
}
