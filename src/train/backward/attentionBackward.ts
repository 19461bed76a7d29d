// Backward of causal grouped-query attention through materialised scores (the path of
// kernels/attentionScores.ts), head by head, with P_h = softmax(scale · Q_h K_gᵀ) saved by the
// forward (attentionForwardSaving below; heads × tokens × tokens, 4·H·T² bytes):
//   dV_g += P_hᵀ · dO_h                       (matmul Aᵀ·B)
//   dP   = dO_h · V_gᵀ                        (matmul A·Bᵀ, T × T scratch)
//   dS   = scale · P_h ⊙ (dP − rowsum(dP ⊙ P_h))  (attentionBackward.wgsl, over dP)
//   dQ_h = dS · K_g                           (matmul A·B)
//   dK_g += dSᵀ · Q_h                         (matmul Aᵀ·B)
// where g = h / (heads / kvHeads), so the gradients of a shared kv head sum over the query heads
// that read it (the first head of each group overwrites, the rest accumulate: no zeroing pass).
// q and k are the rotated ones the scores were computed from; ropeBackward turns dQ and dK into the
// gradients of the unrotated projections. Like the forward, the matmuls compute the masked half of
// each T × T product for nothing, which is cheap next to the online kernel's barriers on CPU
// adapters at the short windows this path serves.

import shader from '../../../shaders/train/backward/attentionBackward.wgsl?raw';
import { GpuLimitError } from '../../gpu/errors';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import type { AttentionArgs } from '../../kernels/attention';
import { scoresFit } from '../../kernels/attentionScores';
import { defineKernel } from '../../kernels/kernel';
import { matmul } from '../../kernels/matmul';
import { checkDistinct, checkFinite, checkInteger, checkMatrix, rowsPerWindow } from '../../kernels/operands';
import { foldGrid } from '../../kernels/params';
import { softmax } from '../../kernels/softmax';
import { bindWindow, span, windowLimits } from '../../kernels/window';

const attentionBackwardKernel = defineKernel({
  name: 'attentionBackward',
  code: shader,
  entryPoints: ['softmax_backward'],
  uniforms: {
    rows: 'u32',
    cols: 'u32',
    ld_p: 'u32',
    ld_d: 'u32',
    off_p: 'u32',
    off_d: 'u32',
    first_row: 'u32',
    causal: 'u32',
    scale: 'f32',
  },
});

export interface SavedAttentionArgs extends AttentionArgs {
  /** heads × tokens × tokens: the softmax probabilities of each head, written by the forward. */
  probs: GPUBuffer;
}

export interface AttentionBackwardArgs {
  /** The forward's (rotated) q, k and v, and its saved probabilities. */
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  probs: GPUBuffer;
  /** The gradient of the attention output, tokens × heads·headDim. */
  dOut: GPUBuffer;
  /** Written (not accumulated): tokens × heads·headDim, and tokens × kvHeads·headDim twice. */
  dQ: GPUBuffer;
  dK: GPUBuffer;
  dV: GPUBuffer;
  tokens: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** As in the forward; default 1/sqrt(headDim). */
  scale?: number;
  /** Elements between consecutive tokens; default heads·headDim for q, dOut, dQ, kvHeads·headDim for the rest. */
  ldQ?: number;
  ldK?: number;
  ldV?: number;
  ldOut?: number;
  ldDQ?: number;
  ldDK?: number;
  ldDV?: number;
  offsetQ?: number;
  offsetK?: number;
  offsetV?: number;
  offsetOut?: number;
  offsetDQ?: number;
  offsetDK?: number;
  offsetDV?: number;
}

function checkHeads(kernel: string, tokens: number, heads: number, kvHeads: number, headDim: number): void {
  checkInteger(kernel, 'tokens', tokens);
  checkInteger(kernel, 'heads', heads, 1);
  checkInteger(kernel, 'kvHeads', kvHeads, 1);
  checkInteger(kernel, 'headDim', headDim, 1);
  if (heads % kvHeads !== 0) {
    throw new RangeError(`${kernel}: heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
  }
}

function checkFits(rt: GpuRuntime, kernel: string, tokens: number): void {
  if (!scoresFit(tokens, rt.limits)) {
    throw new GpuLimitError(
      `${kernel}: ${tokens} tokens need a ${tokens}×${tokens} score matrix (${tokens * tokens * 4} bytes), ` +
        'more than this path allows on this adapter; train on shorter windows',
    );
  }
}

/**
 * The forward of attentionScores.ts that keeps every head's softmax probabilities in args.probs
 * (heads × tokens × tokens) for the backward pass, instead of one scratch matrix.
 */
export async function attentionForwardSaving(rt: GpuRuntime, args: SavedAttentionArgs): Promise<void> {
  const { tokens: T, heads, kvHeads, headDim: D } = args;
  const kernel = 'attentionForwardSaving';
  checkHeads(kernel, T, heads, kvHeads, D);
  const ldQ = args.ldQ ?? heads * D;
  const ldK = args.ldK ?? kvHeads * D;
  const ldV = args.ldV ?? kvHeads * D;
  const ldOut = args.ldOut ?? heads * D;
  checkMatrix(kernel, 'q', args.q, T, heads * D, ldQ, args.offsetQ ?? 0);
  checkMatrix(kernel, 'k', args.k, T, kvHeads * D, ldK, args.offsetK ?? 0);
  checkMatrix(kernel, 'v', args.v, T, kvHeads * D, ldV, args.offsetV ?? 0);
  checkMatrix(kernel, 'out', args.out, T, heads * D, ldOut, args.offsetOut ?? 0);
  checkMatrix(kernel, 'probs', args.probs, heads, T * T, T * T, 0);
  checkDistinct(
    kernel,
    ['probs', args.probs],
    ['q', args.q],
    ['k', args.k],
    ['v', args.v],
    ['out', args.out],
  );
  checkDistinct(kernel, ['out', args.out], ['q', args.q], ['k', args.k], ['v', args.v]);
  if (T === 0) return;
  checkFits(rt, kernel, T);
  const group = heads / kvHeads;
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / group);
    const offP = h * T * T;
    await matmul(rt, {
      a: args.q,
      b: args.k,
      c: args.probs,
      m: T,
      n: T,
      k: D,
      transB: true,
      lda: ldQ,
      ldb: ldK,
      offsetA: (args.offsetQ ?? 0) + h * D,
      offsetB: (args.offsetK ?? 0) + g * D,
      offsetC: offP,
    });
    await softmax(rt, {
      x: args.probs,
      rows: T,
      cols: T,
      offset: offP,
      scale: args.scale ?? 1 / Math.sqrt(D),
      causal: true,
    });
    await matmul(rt, {
      a: args.probs,
      b: args.v,
      c: args.out,
      m: T,
      n: D,
      k: T,
      ldb: ldV,
      ldc: ldOut,
      offsetA: offP,
      offsetB: (args.offsetV ?? 0) + g * D,
      offsetC: (args.offsetOut ?? 0) + h * D,
    });
  }
}

export async function attentionBackward(rt: GpuRuntime, args: AttentionBackwardArgs): Promise<void> {
  const { tokens: T, heads, kvHeads, headDim: D } = args;
  const kernel = 'attentionBackward';
  checkHeads(kernel, T, heads, kvHeads, D);
  const scale = args.scale ?? 1 / Math.sqrt(D);
  checkFinite(kernel, 'scale', scale);
  const qd = heads * D;
  const kvd = kvHeads * D;
  const ld = {
    q: args.ldQ ?? qd,
    k: args.ldK ?? kvd,
    v: args.ldV ?? kvd,
    out: args.ldOut ?? qd,
    dQ: args.ldDQ ?? qd,
    dK: args.ldDK ?? kvd,
    dV: args.ldDV ?? kvd,
  };
  const off = {
    q: args.offsetQ ?? 0,
    k: args.offsetK ?? 0,
    v: args.offsetV ?? 0,
    out: args.offsetOut ?? 0,
    dQ: args.offsetDQ ?? 0,
    dK: args.offsetDK ?? 0,
    dV: args.offsetDV ?? 0,
  };
  checkMatrix(kernel, 'q', args.q, T, qd, ld.q, off.q);
  checkMatrix(kernel, 'k', args.k, T, kvd, ld.k, off.k);
  checkMatrix(kernel, 'v', args.v, T, kvd, ld.v, off.v);
  checkMatrix(kernel, 'dOut', args.dOut, T, qd, ld.out, off.out);
  checkMatrix(kernel, 'probs', args.probs, heads, T * T, T * T, 0);
  checkMatrix(kernel, 'dQ', args.dQ, T, qd, ld.dQ, off.dQ);
  checkMatrix(kernel, 'dK', args.dK, T, kvd, ld.dK, off.dK);
  checkMatrix(kernel, 'dV', args.dV, T, kvd, ld.dV, off.dV);
  const inputs: [string, GPUBuffer][] = [
    ['q', args.q],
    ['k', args.k],
    ['v', args.v],
    ['probs', args.probs],
    ['dOut', args.dOut],
  ];
  // dQ, dK and dV may share one buffer (a fused dQKV): each product writes one of them.
  for (const [name, buffer] of [
    ['dQ', args.dQ],
    ['dK', args.dK],
    ['dV', args.dV],
  ] as const) {
    checkDistinct(kernel, [name, buffer], ...inputs);
  }
  if (T === 0) return;
  checkFits(rt, kernel, T);

  const group = heads / kvHeads;
  const dP = await rt.createBuffer('attention backward dP', 'scratch', T * T * 4);
  try {
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / group);
      const first = h % group === 0;
      const offP = h * T * T;
      // dV_g (+)= P_hᵀ · dO_h
      await matmul(rt, {
        a: args.probs,
        b: args.dOut,
        c: args.dV,
        m: T,
        n: D,
        k: T,
        transA: true,
        lda: T,
        ldb: ld.out,
        ldc: ld.dV,
        offsetA: offP,
        offsetB: off.out + h * D,
        offsetC: off.dV + g * D,
        beta: first ? 0 : 1,
      });
      // dP = dO_h · V_gᵀ
      await matmul(rt, {
        a: args.dOut,
        b: args.v,
        c: dP.buffer,
        m: T,
        n: T,
        k: D,
        transB: true,
        lda: ld.out,
        ldb: ld.v,
        offsetA: off.out + h * D,
        offsetB: off.v + g * D,
      });
      rt.submit(await softmaxBackwardDispatches(rt, args.probs, offP, dP.buffer, T, scale));
      // dQ_h = dS · K_g
      await matmul(rt, {
        a: dP.buffer,
        b: args.k,
        c: args.dQ,
        m: T,
        n: D,
        k: T,
        ldb: ld.k,
        ldc: ld.dQ,
        offsetB: off.k + g * D,
        offsetC: off.dQ + h * D,
      });
      // dK_g (+)= dSᵀ · Q_h
      await matmul(rt, {
        a: dP.buffer,
        b: args.q,
        c: args.dK,
        m: T,
        n: D,
        k: T,
        transA: true,
        lda: T,
        ldb: ld.q,
        ldc: ld.dK,
        offsetB: off.q + h * D,
        offsetC: off.dK + g * D,
        beta: first ? 0 : 1,
      });
    }
  } finally {
    // Deferred by the ledger until the recorded work is submitted.
    dP.destroy();
  }
}

/** dP ← scale · P ⊙ (dP − rowsum(dP ⊙ P)) for one head's T × T matrices, causal, in row windows. */
async function softmaxBackwardDispatches(
  rt: GpuRuntime,
  probs: GPUBuffer,
  offsetProbs: number,
  dP: GPUBuffer,
  T: number,
  scale: number,
): Promise<Dispatch[]> {
  const kernel = 'attentionBackward';
  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const perWindow = Math.min(rowsPerWindow(kernel, 'row of scores', capacity, T, T), maxGroups * maxGroups);
  const pipeline = await attentionBackwardKernel.pipeline(rt, 'softmax_backward', {
    // About four columns per invocation, 64 at most per row, as the forward softmax.
    GROUP: Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, T / 4)))),
  });
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < T; r0 += perWindow) {
    const rb = Math.min(perWindow, T - r0);
    const p = bindWindow(probs, offsetProbs + r0 * T, span(rb, T, T), align);
    const d = bindWindow(dP, r0 * T, span(rb, T, T), align);
    dispatches.push({
      pipeline,
      uniforms: attentionBackwardKernel.pack({
        rows: rb,
        cols: T,
        ld_p: T,
        ld_d: T,
        off_p: p.base,
        off_d: d.base,
        first_row: r0,
        causal: 1,
        scale,
      }),
      storage: [p.binding, d.binding],
      workgroups: foldGrid(rb, maxGroups),
    });
  }
  return dispatches;
}
