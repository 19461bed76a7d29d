// What a pruning run is asked to do, with the paper's defaults and the checks that turn a bad
// setting into a message before any GPU work starts. The open questions of the paper
// (docs/algorithms/fistapruner.md §5) are options here; each default names the choice it makes.

import { type Bound, describeBound, inBound } from '../bounds/bound';

/** The largest group nmMask ranks (the private array of shaders/prune/masks.wgsl). */
export const NM_MAX_M = 64;

export const PRUNE_METHODS = ['fista', 'sparsegpt', 'wanda', 'magnitude'] as const;
export type PruneMethod = (typeof PRUNE_METHODS)[number];

/** Unstructured: this fraction of each group is zeroed. N:M: N non-zeros are kept in every M consecutive inputs of a row. */
export type SparsityPattern =
  | { kind: 'unstructured'; sparsity: number }
  | { kind: 'nm'; n: number; m: number };

/** Where FISTA starts: a baseline's pruned weights (computed on the same statistics) or the dense weights. */
export const WARM_STARTS = ['sparsegpt', 'wanda', 'magnitude', 'dense'] as const;
export type WarmStart = (typeof WARM_STARTS)[number];

/**
 * Which magnitudes one unstructured hard threshold ranks together. The paper leaves it open (docs/algorithms/fistapruner.md §5.1); 'row'
 * (the default) matches the row-wise objective and Wanda, and our float64 prototype found it better.
 */
export const THRESHOLD_GROUPS = ['row', 'matrix'] as const;
export type ThresholdGroup = (typeof THRESHOLD_GROUPS)[number];

export type CalibrationSource =
  | { kind: 'c4' }
  | { kind: 'tinystories' }
  | { kind: 'text'; text: string; label: string };

export interface CalibrationOptions {
  source: CalibrationSource;
  windows: number;
  seqLen: number;
  seed: number;
}

export interface FistaOptions {
  /** K: FISTA iterations per inner solve (paper: 20). */
  iterations: number;
  /** T: outer rounds of the λ search (paper: 3). */
  rounds: number;
  /** ξ: the ratio E_round / E_total above which λ is raised (paper: 0.3). */
  xi: number;
  /** Relative change ‖W_{k+1} − W_k‖_F / ‖W_k‖_F that ends an inner solve early (Eq. 6; its form is our reading). 0 runs all K. */
  tolerance: number;
  warmStart: WarmStart;
  thresholdGroup: ThresholdGroup;
  /** Intra-layer cumulative error correction (X* from the already-pruned operators). Off: X* = X, for the ablation. */
  errorCorrection: boolean;
}

export interface SparseGptOptions {
  /** Damping as a fraction of the mean Hessian diagonal (0.01 in the reference code). */
  percdamp: number;
  /** Columns swept per block (128 in the reference code). */
  blocksize: number;
}

/**
 * Where each block's input comes from. 'dense': every block sees the dense model's activations, so
 * blocks are independent (FISTAPruner's choice, docs/algorithms/fistapruner.md §3). 'pruned': the previous blocks' pruned
 * outputs, as SparseGPT's and Wanda's code do (docs/algorithms/evaluation.md §1).
 */
export const BLOCK_INPUTS = ['dense', 'pruned'] as const;
export type BlockInputs = (typeof BLOCK_INPUTS)[number];

export interface PruneOptions {
  method: PruneMethod;
  pattern: SparsityPattern;
  calibration: CalibrationOptions;
  fista: FistaOptions;
  sparsegpt: SparseGptOptions;
  blockInputs: BlockInputs;
  /** Blocks to prune (all when absent): a subset for sharded runs. */
  blocks?: number[];
}

export const PAPER_FISTA: FistaOptions = {
  iterations: 20,
  rounds: 3,
  xi: 0.3,
  tolerance: 0,
  warmStart: 'sparsegpt',
  thresholdGroup: 'row',
  errorCorrection: true,
};

/**
 * The studio's FISTAPruner settings: the paper's with T = 10 λ rounds instead of 3. Chosen from the
 * T ∈ {3, 5, 10} × K ∈ {20, 50, 100} sweep on stories260K calibrated in-domain on TinyStories
 * (docs/results/pruning.md, "Choosing the studio's defaults"): more λ rounds lowered perplexity at
 * both 50% and 2:4, more iterations did not (at 2:4 they raised it), and T = 10, K = 20 was the best
 * point at both patterns for 2.7× the paper's GPU dispatches. The engine and the CLI keep the
 * paper's values; the studio offers them as a preset.
 */
export const STUDIO_FISTA: FistaOptions = { ...PAPER_FISTA, rounds: 10 };

export const PAPER_SPARSEGPT: SparseGptOptions = { percdamp: 0.01, blocksize: 128 };

/** The reference pipelines' calibration: 128 C4 windows of 2048 tokens, seed 0. */
export const PAPER_CALIBRATION: CalibrationOptions = {
  source: { kind: 'c4' },
  windows: 128,
  seqLen: 2048,
  seed: 0,
};

/**
 * Calibration scaled to the model: the paper's 128 windows of 2048 tokens for a model with that
 * context, fewer and shorter ones for small models (a 260K-parameter model with a 512-token context
 * is well served by 32 × 256 tokens, and the GPU time stays in seconds).
 */
export function defaultCalibration(context: number, parameters: number): CalibrationOptions {
  const seqLen = Math.min(PAPER_CALIBRATION.seqLen, Math.max(16, Math.floor(context / 2)));
  const windows = parameters < 10_000_000 ? 32 : PAPER_CALIBRATION.windows;
  return { ...PAPER_CALIBRATION, seqLen: Math.min(seqLen, context), windows };
}

/** The block inputs each method's reference pipeline uses. */
export function defaultBlockInputs(method: PruneMethod): BlockInputs {
  return method === 'fista' ? 'dense' : 'pruned';
}

/** A pruning setting no model could honour. */
export class PruneOptionsError extends RangeError {
  override name = 'PruneOptionsError';
}

/**
 * Every range a pruning setting is checked against, written once: the engine (below), the
 * studio's form, its links and its demo files all read them from here.
 */
export const PRUNE_BOUNDS = {
  /** The fraction zeroed (the studio shows it as a percentage). */
  sparsity: { min: 0, max: 1, whole: false, openMin: true, openMax: true },
  n: { min: 1, max: NM_MAX_M - 1, whole: true },
  /** The mask kernels' widest group (masks.ts). */
  m: { min: 2, max: NM_MAX_M, whole: true },
  windows: { min: 1, max: 100_000, whole: true },
  /** Also at most the model's context, which the hosts check. */
  seqLen: { min: 2, max: 1_000_000, whole: true },
  iterations: { min: 1, max: 10_000, whole: true },
  rounds: { min: 1, max: 100, whole: true },
  xi: { min: 0, max: 1, whole: false, openMin: true, openMax: true },
  percdamp: { min: 0, max: 10, whole: false, openMin: true },
  /**
   * GPU devices pruning at once; also at most what the cores and the memory budget allow
   * (parallel.ts maxPruneDevices), checked where those are known.
   */
  devices: { min: 1, max: Number.POSITIVE_INFINITY, whole: true },
} as const satisfies Record<string, Bound>;

/** Checks what does not depend on the model; checkPatternFits checks each operator's width. */
export function validatePruneOptions(o: PruneOptions, layers: number): void {
  const B = PRUNE_BOUNDS;
  const check = (what: string, b: Bound, v: number) => {
    if (!inBound(b, v)) throw new PruneOptionsError(`${what} must be ${describeBound(b)}, got ${v}`);
  };
  const p = o.pattern;
  if (p.kind === 'unstructured') check('sparsity', B.sparsity, p.sparsity);
  else {
    check('N of N:M', B.n, p.n);
    check('M of N:M', B.m, p.m);
    if (p.n >= p.m) throw new PruneOptionsError(`N:M needs N < M (N kept of every M), got ${p.n}:${p.m}`);
  }
  const c = o.calibration;
  check('the number of calibration windows', B.windows, c.windows);
  check('the calibration window length', B.seqLen, c.seqLen);
  const f = o.fista;
  check('FISTA iterations', B.iterations, f.iterations);
  check('λ rounds', B.rounds, f.rounds);
  check('ξ', B.xi, f.xi);
  if (!(f.tolerance >= 0))
    throw new PruneOptionsError(`the stopping tolerance must be ≥ 0, got ${f.tolerance}`);
  const s = o.sparsegpt;
  check('SparseGPT damping', B.percdamp, s.percdamp);
  if (!Number.isInteger(s.blocksize) || s.blocksize < 1)
    throw new PruneOptionsError(`SparseGPT block size must be a whole number ≥ 1, got ${s.blocksize}`);
  if (p.kind === 'nm' && s.blocksize % p.m !== 0)
    throw new PruneOptionsError(`SparseGPT's block size ${s.blocksize} must be a multiple of M = ${p.m}`);
  for (const b of o.blocks ?? []) {
    if (!Number.isInteger(b) || b < 0 || b >= layers)
      throw new PruneOptionsError(`block ${b} is outside 0..${layers - 1}`);
  }
}

/** N:M groups run along an operator's inputs, so M must divide every input width. */
export function checkPatternFits(pattern: SparsityPattern, operator: string, inputWidth: number): void {
  if (pattern.kind === 'nm' && inputWidth % pattern.m !== 0) {
    throw new PruneOptionsError(
      `${operator} has ${inputWidth} inputs, which M = ${pattern.m} does not divide: choose an M that divides every input width`,
    );
  }
}

/** How many entries of each ranked group of `width` are zeroed. */
export function prunedPerGroup(sparsity: number, width: number): number {
  return Math.floor(sparsity * width);
}
