// Causal attention for small heads (headDim ≤ 32): one invocation per (query, head), keys walked in
// registers with the online softmax (attentionSmallHead.wgsl). It is the fastest of the three
// attention kernels when heads are narrow, on SwiftShader by several times (see bench/README.md),
// and it handles the windows of a batched pass natively. It binds each operand whole, so it runs
// only when they fit one storage binding (smallHeadFits); the caller falls back otherwise.

import shader from '../../shaders/kernels/attentionSmallHead.wgsl?raw';
import type { EngineLimits } from '../gpu/device';
import { GpuLimitError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { type AttentionArgs, attentionLayout, attentionOperands } from './attention';
import { defineKernel } from './kernel';
import { foldGrid } from './params';
import { bindWindow, span, windowCapacity } from './window';

// The shader as written (HEAD_DIM = 0); each head size compiles its own copy with HEAD_DIM set,
// since the query and accumulator are registers sized by it.
const template = {
  name: 'attention small head',
  code: shader,
  uniforms: {
    tokens: 'u32',
    heads: 'u32',
    group: 'u32',
    seq_len: 'u32',
    ld_q: 'u32',
    ld_k: 'u32',
    ld_v: 'u32',
    ld_out: 'u32',
    off_q: 'u32',
    off_k: 'u32',
    off_v: 'u32',
    off_out: 'u32',
    query_start: 'u32',
    scale: 'f32',
  },
} as const;
defineKernel(template);

const byHeadDim = new Map<number, ReturnType<typeof defineKernel<typeof template.uniforms>>>();

function smallHeadKernel(headDim: number) {
  let kernel = byHeadDim.get(headDim);
  if (!kernel) {
    kernel = defineKernel({
      ...template,
      name: `attention small head ${headDim}`,
      code: shader.replace('const HEAD_DIM: u32 = 0u;', `const HEAD_DIM: u32 = ${headDim}u;`),
    });
    byHeadDim.set(headDim, kernel);
  }
  return kernel;
}

/** The widest head this kernel takes: its query and accumulator live in registers. */
export const SMALL_HEAD_MAX_DIM = 32;

const WORKGROUP = 64;

/** Whether smallHeadAttention can run these operands on these limits. */
export function smallHeadFits(args: AttentionArgs, limits: EngineLimits): boolean {
  const { tokens, heads, kvHeads, headDim } = args;
  if (headDim > SMALL_HEAD_MAX_DIM) return false;
  if (tokens === 0) return true;
  const capacity = windowCapacity(limits.maxStorageBufferBindingSize, limits.minStorageBufferOffsetAlignment);
  const l = attentionLayout(args);
  const keys = (args.queryStart ?? 0) + tokens;
  const maxGroups = limits.maxComputeWorkgroupsPerDimension;
  return (
    span(tokens, heads * headDim, l.ldQ) <= capacity &&
    span(tokens, heads * headDim, l.ldOut) <= capacity &&
    span(keys, kvHeads * headDim, l.ldK) <= capacity &&
    span(keys, kvHeads * headDim, l.ldV) <= capacity &&
    Math.ceil((tokens * heads) / WORKGROUP) <= maxGroups * maxGroups
  );
}

export async function smallHeadAttention(rt: GpuRuntime, args: AttentionArgs): Promise<void> {
  const { tokens, heads, kvHeads, headDim } = args;
  const o = attentionOperands(args, SMALL_HEAD_MAX_DIM);
  if (tokens === 0) return;
  if (!smallHeadFits(args, rt.limits)) {
    throw new GpuLimitError(
      `attention: ${tokens} tokens × ${heads} heads do not fit the small-head kernel's single bindings here`,
    );
  }
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const q = bindWindow(args.q, o.offQ, span(tokens, heads * headDim, o.ldQ), align);
  const k = bindWindow(args.k, o.offK, span(o.keys, kvHeads * headDim, o.ldK), align);
  const v = bindWindow(args.v, o.offV, span(o.keys, kvHeads * headDim, o.ldV), align);
  const out = bindWindow(args.out, o.offOut, span(tokens, heads * headDim, o.ldOut), align);
  const kernel = smallHeadKernel(headDim);
  const pipeline = await kernel.pipeline(rt);
  rt.submit([
    {
      pipeline,
      uniforms: kernel.pack({
        tokens,
        heads,
        group: heads / kvHeads,
        seq_len: o.seqLen,
        ld_q: o.ldQ,
        ld_k: o.ldK,
        ld_v: o.ldV,
        ld_out: o.ldOut,
        off_q: q.base,
        off_k: k.base,
        off_v: v.base,
        off_out: out.base,
        query_start: o.queryStart,
        scale: o.scale,
      }),
      storage: [q.binding, k.binding, v.binding, out.binding],
      workgroups: foldGrid(
        Math.ceil((tokens * heads) / WORKGROUP),
        rt.limits.maxComputeWorkgroupsPerDimension,
      ),
    },
  ]);
}
