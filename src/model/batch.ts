// How many windows one pass of the model takes at once. Every kernel of a block but positions and
// attention treats the rows of a pass alike (blockForward.ts), so stacking windows multiplies the
// rows of each matrix product and divides the number of dispatches, submissions and read-backs per
// window: on a real GPU that is the difference between dispatch-bound and arithmetic-bound for
// models as small as stories260K, and between half-empty and full 64-row tiles for OPT-125M.
//
// The size is the smallest of: enough rows to fill the products (PASS_ROWS, beyond which a GPU
// gains little), the memory the caller can spare for activations, and the device's largest buffer.

import type { EngineLimits } from '../gpu/device';
import type { ModelConfig } from './config';

/** Rows of a pass beyond which larger passes buy little on any adapter. */
export const PASS_ROWS = 4096;

/** Activation memory a pass may take when the caller does not say. */
export const DEFAULT_PASS_BYTES = 256 * 2 ** 20;

/** Logits are computed in chunks of rows whose vocab-wide buffer stays under this. */
export const LOGIT_CHUNK_BYTES = 16 * 2 ** 20;

/** Bytes of the per-row activation buffers (blockBufferSizes, targets and NLL) for one window. */
export function windowActivationBytes(c: ModelConfig, seqLen: number): number {
  const qd = c.heads * c.headDim;
  const kvd = c.kvHeads * c.headDim;
  // x, h, q, k, v, attention output, two MLP buffers; ids, positions, targets and NLL.
  return 4 * seqLen * (3 * c.hidden + 2 * qd + 2 * kvd + 2 * c.ffnHidden + 4);
}

/** Rows of logits computed at once for a pass of `rows` rows (at least one). */
export function logitChunkRows(vocab: number, rows: number): number {
  return Math.max(1, Math.min(rows, Math.floor(LOGIT_CHUNK_BYTES / (4 * vocab))));
}

/**
 * Windows per pass for `windows` windows of seqLen tokens, when `spareBytes` of memory may hold
 * activations (the logit chunk is extra, bounded by LOGIT_CHUNK_BYTES). At least 1: one window's
 * activations are what the fit check already counts.
 */
export function windowsPerPass(
  c: ModelConfig,
  seqLen: number,
  windows: number,
  limits: Pick<EngineLimits, 'maxBufferSize'>,
  spareBytes: number,
): number {
  const widest = Math.max(c.hidden, c.heads * c.headDim, c.ffnHidden);
  const byRows = Math.floor(PASS_ROWS / seqLen);
  const byMemory = Math.floor(spareBytes / windowActivationBytes(c, seqLen));
  const byBuffer = Math.floor(limits.maxBufferSize / (4 * seqLen * widest));
  return Math.max(1, Math.min(windows, byRows, byMemory, byBuffer));
}
