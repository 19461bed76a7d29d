// Causal attention through materialised scores, head by head: S = Q_h · K_gᵀ (tokens × tokens) by
// matmul, a causal softmax of scale · S in place, then O_h = S · V_g by matmul. It spends
// tokens² · 4 bytes of scratch and computes the masked half of S for nothing, but it runs on the
// register-blocked matmul; on adapters where the online-softmax kernel (attention.ts) is dominated
// by its workgroup barriers, such as SwiftShader, it is tens of times faster for short windows.
// Both are checked against the same float64 reference.

import type { EngineLimits } from '../gpu/device';
import type { GpuRuntime } from '../gpu/runtime';
import { type AttentionArgs, attentionLayout } from './attention';
import { matmul } from './matmul';
import { checkSeqLen } from './operands';
import { softmax } from './softmax';

/** Scratch the score matrix may take: above it, attention.ts is the better choice anyway. */
export const SCORES_MAX_BYTES = 64 * 2 ** 20;

/** Whether scoresAttention can run a window of this many tokens on these limits. */
export function scoresFit(tokens: number, limits: EngineLimits): boolean {
  const bytes = tokens * tokens * 4;
  return (
    bytes <= SCORES_MAX_BYTES &&
    bytes <= limits.maxBufferSize &&
    tokens * 4 <= limits.maxStorageBufferBindingSize / 2
  );
}

export async function scoresAttention(rt: GpuRuntime, args: AttentionArgs): Promise<void> {
  const { tokens, heads, kvHeads, headDim: D } = args;
  if ((args.queryStart ?? 0) !== 0) {
    throw new RangeError(
      'attention: the materialised scores take no query offset (queryStart); use attention',
    );
  }
  if (!Number.isInteger(heads / kvHeads)) {
    throw new RangeError(`attention: heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
  }
  // A batched pass's windows are scored one after another through the same scratch.
  const T = checkSeqLen('attention', tokens, args.seqLen);
  if (tokens === 0) return;
  const group = heads / kvHeads;
  const { ldQ, ldK, ldV, ldOut } = attentionLayout(args);
  const scores = await rt.createBuffer('attention scores', 'scratch', T * T * 4);
  try {
    for (let w = 0; w < tokens / T; w++)
      for (let h = 0; h < heads; h++) {
        const g = Math.floor(h / group);
        await matmul(rt, {
          a: args.q,
          b: args.k,
          c: scores.buffer,
          m: T,
          n: T,
          k: D,
          transB: true,
          lda: ldQ,
          ldb: ldK,
          offsetA: (args.offsetQ ?? 0) + w * T * ldQ + h * D,
          offsetB: (args.offsetK ?? 0) + w * T * ldK + g * D,
        });
        await softmax(rt, {
          x: scores.buffer,
          rows: T,
          cols: T,
          scale: args.scale ?? 1 / Math.sqrt(D),
          causal: true,
        });
        await matmul(rt, {
          a: scores.buffer,
          b: args.v,
          c: args.out,
          m: T,
          n: D,
          k: T,
          ldb: ldV,
          ldc: ldOut,
          offsetB: (args.offsetV ?? 0) + w * T * ldV + g * D,
          offsetC: (args.offsetOut ?? 0) + w * T * ldOut + h * D,
        });
      }
  } finally {
    // Deferred by the ledger until the recorded work is submitted.
    scores.destroy();
  }
}
