// What a pruning run reports while it works and what it returns. These are plain data (no
// buffers, no classes) so they cross the worker boundary and go into run records unchanged.

import type { WorkCounters } from '../gpu/meter';
import type { Series } from '../series/series';
import type { PruneMethod, PruneOptions } from './options';

/** One outer round of FISTAPruner's λ search, after its hard threshold. */
export interface LambdaRound {
  round: number;
  lambda: number;
  /** The bisection bracket after this round; hi is null while no upper bound is known. */
  lo: number;
  hi: number | null;
  /** Zeros of the FISTA iterate before the hard threshold. */
  sparsityBeforeThreshold: number;
  /** E_total = ‖W_s X* − W X‖², E_round = ‖(W_s − W_K) X*‖². */
  errorTotal: number;
  errorRound: number;
  /** Whether this round's result is the best so far (and so the one kept unless a later round beats it). */
  best: boolean;
}

/** One pruned weight matrix, in the engine's canonical naming ('layers.3.down.weight'). */
export interface MatrixSummary {
  tensor: string;
  block: number;
  /** Operator name inside its block: q, k, v, o, gate, up, down. */
  operator: string;
  rows: number;
  cols: number;
  /** Zeros / entries of the pruned matrix, counted on the weights read back. */
  sparsity: number;
  /** ‖Ŵ X* − W X‖²_F over the calibration tokens (X* = X for methods without error correction). */
  error: number;
  /** error / ‖W X‖²_F. */
  relativeError: number;
  /** FISTAPruner only: the same error for the warm start it began from. */
  warmStartError?: number;
  /** FISTAPruner only: the λ of the round whose result was kept. */
  lambda?: number;
  /** SparseGPT (also as a warm start): the damping that made the Hessian factorizable, as a fraction of its mean diagonal. */
  damping?: number;
  ms: number;
  /**
   * What the operator asked of the GPU, from its start to its pruned weights read back (absent in
   * records written before the counters existed). The group's statistics and λ_max, which its
   * operators share, are in the block's counters only.
   */
  counters?: WorkCounters;
}

export interface BlockSummary {
  block: number;
  ms: number;
  matrices: MatrixSummary[];
  /**
   * The whole block: its weights' upload, every group's statistics passes (and FISTAPruner's
   * λ_max), its operators, and the next block's inputs.
   */
  counters?: WorkCounters;
}

export interface PruneSummary {
  method: PruneMethod;
  options: PruneOptions;
  blocks: BlockSummary[];
  /** Over all pruned matrices: zeros / entries. */
  sparsity: number;
  calibrationTokens: number;
  ms: number;
  /** The whole run: the embeddings of the calibration windows, then every block (pruned or passed through). */
  counters?: WorkCounters;
}

export type PruneEvent =
  | { type: 'started'; blocks: number[]; operatorsPerBlock: string[]; calibrationTokens: number }
  /** One pass over the calibration windows that accumulates the statistics of an operator group. */
  | { type: 'statistics'; block: number; operators: string[]; windowsDone: number; windowsTotal: number }
  | {
      type: 'operator-started';
      block: number;
      operator: string;
      rows: number;
      cols: number;
      lipschitz?: number;
    }
  /**
   * FISTAPruner: one outer round of the λ search, after its hard threshold, with the round's
   * objective F(W_k) = ½‖W_k X* − W X‖² + λ‖W_k‖₁ for k = 0 … K as one finished series (its `round`
   * names the operator and round; thinned to FISTA_OBJECTIVE_POINTS, see fistaTrace.ts).
   */
  | ({ type: 'lambda-round'; block: number; operator: string; objective: Series } & LambdaRound)
  | { type: 'operator-finished'; matrix: MatrixSummary }
  | { type: 'block-finished'; summary: BlockSummary };
