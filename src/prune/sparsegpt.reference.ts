// SparseGPT in plain float64 (tests only): the reference code's fasterprune written out as loops,
// with our exact-count rule for unstructured masks (⌊numel·s⌋ lowest scores per block, ties by
// position) and N:M (the m − n lowest scores of each group of the current weights pruned, ties by
// column). It factors H⁻¹ the way the reference code does (Cholesky, inverse, upper Cholesky of the
// inverse), not with the shortcut sparsegpt.ts uses, so the two paths check each other.
//
// `follow` lets a test run the reference along the GPU's decisions: f32 and f64 can order two nearly
// equal scores differently, and one flipped decision sends the rest of the row down a different
// (equally valid) path. With `follow`, each mask decision takes the given mask instead of its own
// when the given one is also a lowest-score selection within `scoreTolerance` of each score; a
// decision that is not (a real mask error) is recorded in `violations`, and the given mask is
// still followed so that the comparison goes on.

import { cholesky, inverseFromCholesky, NotPositiveDefiniteError, upperCholesky } from './cholesky.reference';
import type { SparsityPattern } from './options';

export interface SparseGptReferenceOptions {
  percdamp: number;
  blocksize: number;
  /** Damping retries (×10 each), as sparsegpt.ts makes them. */
  retries: number;
  /** A mask (1 = pruned, rows × cols) to follow where it differs from the reference's own. */
  follow?: Uint8Array;
  /** How far a score may be off in the followed computation (from the weight w and U_jj = d). */
  scoreTolerance?: (w: number, d: number) => number;
}

export interface SparseGptReferenceResult {
  w: Float64Array;
  /** 1 = pruned. */
  mask: Uint8Array;
  damping: number;
  deadColumns: number;
  /** The upper Cholesky factor of the damped H⁻¹ that was swept with. */
  u: Float64Array;
  /** The largest magnitude of any weight, update term err·U_ij or err during the sweep. */
  peak: number;
  /** Entries where the followed mask differed from the reference's own choice. */
  flips: number;
  /** Decisions where the followed mask was not a lowest-score selection within tolerance. */
  violations: string[];
}

export function sparseGptReference(
  w0: ArrayLike<number>,
  rows: number,
  cols: number,
  hessian: ArrayLike<number>,
  pattern: SparsityPattern,
  options: SparseGptReferenceOptions,
): SparseGptReferenceResult {
  const w = Float64Array.from(w0);
  const h = Float64Array.from(hessian);
  let deadColumns = 0;
  for (let i = 0; i < cols; i++) {
    if (h[i * cols + i] === 0) {
      deadColumns++;
      h[i * cols + i] = 1;
      for (let r = 0; r < rows; r++) w[r * cols + i] = 0;
    }
  }
  let mean = 0;
  for (let i = 0; i < cols; i++) mean += h[i * cols + i] as number;
  mean /= cols;
  let u: Float64Array | null = null;
  let damping = options.percdamp;
  for (let attempt = 0; attempt <= options.retries; attempt++) {
    damping = options.percdamp * 10 ** attempt;
    const damped = Float64Array.from(h);
    for (let i = 0; i < cols; i++) damped[i * cols + i] = (damped[i * cols + i] as number) + damping * mean;
    try {
      u = upperCholesky(inverseFromCholesky(cholesky(damped, cols), cols), cols);
      break;
    } catch (error) {
      if (!(error instanceof NotPositiveDefiniteError)) throw error;
    }
  }
  if (!u) throw new NotPositiveDefiniteError(`reference: not positive definite up to damping ${damping}`);
  const U = u;

  const pruned = new Uint8Array(rows * cols);
  const violations: string[] = [];
  let flips = 0;
  let peak = 0;
  for (const v of w) peak = Math.max(peak, Math.abs(v));
  const score = (r: number, c: number) => (w[r * cols + c] as number) ** 2 / (U[c * cols + c] as number) ** 2;
  const tolerance = (r: number, c: number) =>
    options.scoreTolerance?.(w[r * cols + c] as number, U[c * cols + c] as number) ?? 0;

  // Prunes `count` of the entries (row-major indices into W), lowest score first, ties by position;
  // or, following, the given mask's choice among them.
  const decide = (entries: number[], count: number, label: string) => {
    const s = entries.map((e) => score(Math.floor(e / cols), e % cols));
    const order = entries.map((_, k) => k).sort((a, b) => (s[a] as number) - (s[b] as number) || a - b);
    const own = new Set(order.slice(0, count));
    if (!options.follow) {
      for (const k of own) pruned[entries[k] as number] = 1;
      return;
    }
    const chosen = entries.map((e) => options.follow?.[e] === 1);
    const chosenCount = chosen.filter(Boolean).length;
    if (chosenCount !== count)
      violations.push(`${label}: the followed mask prunes ${chosenCount}, not ${count}`);
    // A valid selection under perturbed scores: every pruned score, lowered by its tolerance, is at
    // most every kept score raised by its own.
    let maxPruned = Number.NEGATIVE_INFINITY;
    let minKept = Number.POSITIVE_INFINITY;
    entries.forEach((e, k) => {
      const t = tolerance(Math.floor(e / cols), e % cols);
      if (chosen[k]) maxPruned = Math.max(maxPruned, (s[k] as number) - t);
      else minKept = Math.min(minKept, (s[k] as number) + t);
      if (chosen[k] !== own.has(k)) flips++;
      if (chosen[k]) pruned[e] = 1;
    });
    if (maxPruned > minKept)
      violations.push(`${label}: a pruned score ${maxPruned} exceeds a kept one ${minKept} beyond tolerance`);
  };

  for (let c0 = 0; c0 < cols; c0 += options.blocksize) {
    const b = Math.min(options.blocksize, cols - c0);
    if (pattern.kind === 'unstructured') {
      const entries: number[] = [];
      for (let r = 0; r < rows; r++) for (let j = 0; j < b; j++) entries.push(r * cols + c0 + j);
      decide(entries, Math.floor(rows * b * pattern.sparsity), `block at column ${c0}`);
    }
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < b; i++) {
        const c = c0 + i;
        if (pattern.kind === 'nm' && i % pattern.m === 0) {
          const group = Array.from({ length: pattern.m }, (_, k) => r * cols + c + k);
          decide(group, pattern.m - pattern.n, `row ${r}, group at column ${c}`);
        }
        const wc = w[r * cols + c] as number;
        const q = pruned[r * cols + c] ? 0 : wc;
        const err = (wc - q) / (U[c * cols + c] as number);
        peak = Math.max(peak, Math.abs(err));
        // The block's columns and all later ones at once: the reference code applies the later
        // columns' share after the block (Err · U), the same sums in another order.
        for (let j = c + 1; j < cols; j++) {
          const term = err * (U[c * cols + j] as number);
          const v = (w[r * cols + j] as number) - term;
          w[r * cols + j] = v;
          peak = Math.max(peak, Math.abs(term), Math.abs(v));
        }
        w[r * cols + c] = q;
      }
    }
  }
  return { w, mask: pruned, damping, deadColumns, u: U, peak, flips, violations };
}
