// L = λ_max(G), the Lipschitz constant of the gradient W·G − B, which fixes FISTA's step 1/L
// (docs/pruning.md). G = X*ᵀX* is symmetric positive semi-definite. A fixed number of Lanczos
// steps runs on the GPU with one read-back (src/kernels/lanczos.ts); the largest eigenvalue of
// the small tridiagonal matrix they produce is found in float64 on the CPU. That Ritz value
// approaches λ_max from below, so the estimate is raised by a margin: a step longer than 1/L can
// make FISTA diverge, while a slightly shorter one only slows it.

import type { GpuRuntime } from '../gpu/runtime';
import { lanczos, largestRitzValue } from '../kernels/lanczos';
import { Random } from '../kernels/random';

/**
 * Lanczos steps for λ_max. Measured (2026-12-02, SwiftShader) as (λ_max − estimate)/λ_max against
 * a float64 Lanczos with full reorthogonalisation, for Grams of 4·n tokens (at most 2048):
 * - features with their own mean and scale (bench/prune.ts's X; a dominant eigenvalue), n = 24,
 *   64, 172, 768: within ±5·10⁻⁶ (f32 rounding, either side) from 8 steps on;
 * - i.i.d. uniform X (a flat Marchenko–Pastur spectrum, the slow case; power iteration needed
 *   hundreds of steps there): n = 768 gives 2.4·10⁻² at 8 steps, 8.5·10⁻³ at 16, 3.3·10⁻³ at
 *   32 and 2.7·10⁻⁶ at 48; n ≤ 172 is within 10⁻⁷ from 24 steps;
 * - rank-deficient G (n/8 tokens), n = 24, 64, 172: within 10⁻⁶ from 12 steps.
 * Near a spectrum's edge Lanczos' error falls like the width over m², independent of n, so 48
 * steps leave the flat case about 0.2 % below λ_max at any width, ten times inside
 * LIPSCHITZ_MARGIN. The cost is 48 products G·v (48·n² multiply-adds), no more than one FISTA
 * iteration's Y·G (m·n², m ≥ 64 rows for every operator here), and L is shared by an operator group.
 */
export const LANCZOS_STEPS = 48;

/** Relative margin added to the eigenvalue estimate. */
export const LIPSCHITZ_MARGIN = 0.02;

export class DegenerateGramError extends RangeError {
  override name = 'DegenerateGramError';
}

export interface EigenvalueOptions {
  /** Lanczos steps (at most n are taken); LANCZOS_STEPS by default. */
  steps?: number;
}

/** The largest eigenvalue of the n × n symmetric positive semi-definite matrix `gram`. */
export async function largestEigenvalue(
  rt: GpuRuntime,
  gram: GPUBuffer,
  n: number,
  options: EigenvalueOptions = {},
): Promise<number> {
  // A fixed seed: the same Gram always gives the same L, so runs are reproducible.
  const start = new Random(0x5eed).uniform(n, 0.5, 1.5);
  const unit = Math.sqrt(start.reduce((s, x) => s + x * x, 0));
  const t = await lanczos(
    rt,
    gram,
    n,
    start.map((v) => v / unit),
    options.steps ?? LANCZOS_STEPS,
  );
  // NaN or ±∞ anywhere in G reaches the coefficients through the products with the dense start.
  if (![...t.alpha, ...t.betaSquared].every(Number.isFinite))
    throw new DegenerateGramError('the Gram matrix holds NaN or infinite values');
  // α₁ = v₁ᵀG·v₁ with v₁ > 0 everywhere: for a PSD G it is 0 exactly when G·v₁ = 0.
  if (t.alpha[0] === 0)
    throw new DegenerateGramError('the Gram matrix is zero: the operator never saw a non-zero input');
  return largestRitzValue(t);
}

/** L for FISTA's step: the eigenvalue estimate raised by LIPSCHITZ_MARGIN. */
export async function lipschitzConstant(rt: GpuRuntime, gram: GPUBuffer, n: number): Promise<number> {
  return (1 + LIPSCHITZ_MARGIN) * (await largestEigenvalue(rt, gram, n));
}
