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
import { foldGrid, packParams } from './params';
import { bindWindow, span, windowCapacity } from './window';

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
  const pipeline = await rt.pipeline({
    name: `attention small head ${headDim}`,
    code: shader.replace('const HEAD_DIM: u32 = 0u;', `const HEAD_DIM: u32 = ${headDim}u;`),
  });
  rt.submit([
    {
      pipeline,
      uniforms: packParams([
        ['u32', tokens],
        ['u32', heads],
        ['u32', heads / kvHeads],
        ['u32', o.seqLen],
        ['u32', o.ldQ],
        ['u32', o.ldK],
        ['u32', o.ldV],
        ['u32', o.ldOut],
        ['u32', q.base],
        ['u32', k.base],
        ['u32', v.base],
        ['u32', out.base],
        ['u32', o.queryStart],
        ['f32', o.scale],
      ]),
      storage: [q.binding, k.binding, v.binding, out.binding],
      workgroups: foldGrid(
        Math.ceil((tokens * heads) / WORKGROUP),
        rt.limits.maxComputeWorkgroupsPerDimension,
      ),
    },
  ]);
}
