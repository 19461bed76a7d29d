// The three baselines as the reference code runs them (docs/algorithms/magnitude.md, wanda.md, sparsegpt.md), on one operator's weights and
// statistics: magnitude (|W|, per matrix; N:M along rows), Wanda (|W_ij|·‖X_j‖, per output row;
// N:M along rows; no weight update) and SparseGPT (blocked OBS sweep with an adaptive mask). The
// same functions give FISTAPruner its warm start.

import type { GpuRuntime } from '../gpu/runtime';
import type { GroupHessianFactor } from './hessianFactor';
import { applyKeep, magnitudeScores, nmMask, rowMask, wandaScores } from './masks';
import type { SparseGptOptions, SparsityPattern, WarmStart } from './options';
import { checkSweep, sparseGpt, sparseGptSweep } from './sparsegpt';

export interface BaselineArgs {
  /** Dense weights (rows × cols); not modified. */
  w: GPUBuffer;
  /** Receives the pruned weights (rows × cols). */
  out: GPUBuffer;
  rows: number;
  cols: number;
  /** cols × cols Gram of the operator's inputs: Wanda's norms on its diagonal, SparseGPT's Hessian. */
  gram: GPUBuffer;
  pattern: SparsityPattern;
  sparsegpt: SparseGptOptions;
  /**
   * SparseGPT: the factor of gram's inverse, shared by the operators of a group (made on first use).
   * Without it SparseGPT factors gram for this operator alone.
   */
  factor?: GroupHessianFactor;
  signal?: AbortSignal;
}

export interface BaselineResult {
  /** SparseGPT: the damping finally used, as a fraction of the mean Hessian diagonal. */
  damping?: number;
}

/** Prunes with a baseline ('dense' copies the weights unchanged, FISTA's dense start). */
export async function pruneBaseline(
  rt: GpuRuntime,
  method: WarmStart,
  a: BaselineArgs,
): Promise<BaselineResult> {
  const count = a.rows * a.cols;
  rt.copy(a.w, a.out, 4 * count);
  if (method === 'dense') return {};
  if (method === 'sparsegpt' && a.factor) {
    const sweep = {
      w: a.out,
      rows: a.rows,
      cols: a.cols,
      pattern: a.pattern,
      blocksize: a.sparsegpt.blocksize,
    };
    // A shape the sweep refuses is refused before the group pays for a factorization.
    checkSweep(rt, sweep);
    const factor = await a.factor.get();
    await sparseGptSweep(rt, { ...sweep, factor, signal: a.signal });
    return { damping: factor.damping };
  }
  if (method === 'sparsegpt') {
    const result = await sparseGpt(rt, {
      w: a.out,
      rows: a.rows,
      cols: a.cols,
      hessian: a.gram,
      pattern: a.pattern,
      options: a.sparsegpt,
      signal: a.signal,
    });
    return { damping: result.damping };
  }
  const scores = await rt.createBuffer(`${method} scores`, 'scratch', 4 * count);
  const keep = await rt.createBuffer(`${method} mask`, 'scratch', 4 * count);
  try {
    if (method === 'wanda') {
      await wandaScores(rt, { w: a.w, gram: a.gram, rows: a.rows, cols: a.cols, out: scores.buffer });
    } else {
      await magnitudeScores(rt, { w: a.w, count, out: scores.buffer });
    }
    const p = a.pattern;
    if (p.kind === 'nm') {
      await nmMask(rt, {
        scores: scores.buffer,
        keep: keep.buffer,
        rows: a.rows,
        cols: a.cols,
        n: p.n,
        m: p.m,
      });
    } else if (method === 'magnitude') {
      // Magnitude ranks the whole matrix at once (the reference code's global threshold).
      await rowMask(rt, {
        scores: scores.buffer,
        keep: keep.buffer,
        rows: 1,
        cols: count,
        prune: Math.floor(p.sparsity * count),
      });
    } else {
      await rowMask(rt, {
        scores: scores.buffer,
        keep: keep.buffer,
        rows: a.rows,
        cols: a.cols,
        prune: Math.floor(p.sparsity * a.cols),
      });
    }
    await applyKeep(rt, { w: a.out, keep: keep.buffer, count });
    return {};
  } finally {
    // The masks end without a read-back, and the ledger defers a destroy until the work that uses
    // the buffer is submitted: submit now, so the matrix-sized scores and mask are freed before the
    // caller's next step allocates its own (memoryPlan.ts counts on it).
    rt.flush();
    scores.destroy();
    keep.destroy();
  }
}
