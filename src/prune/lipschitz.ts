// L = λ_max(G), the Lipschitz constant of the gradient W·G − B, which fixes FISTA's step 1/L
// (spec §1). G = X*ᵀX* is symmetric positive semi-definite, so power iteration converges to its
// largest eigenvalue from below (we use the Rayleigh quotient); the estimate is raised by a margin because a step longer than
// 1/L can make FISTA diverge, while a slightly shorter one only slows it.

import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { scale } from '../kernels/elementwise';
import { matmul } from '../kernels/matmul';
import { Random } from '../kernels/random';
import { reduceToNumber } from '../kernels/reduce';

export interface PowerIterationOptions {
  maxIterations?: number;
  /** Stop when successive estimates differ by less than this fraction. */
  tolerance?: number;
}

/** Relative margin added to the power-iteration estimate. */
export const LIPSCHITZ_MARGIN = 0.02;

export class DegenerateGramError extends RangeError {
  override name = 'DegenerateGramError';
}

/** The largest eigenvalue of the n × n symmetric positive semi-definite matrix `gram`. */
export async function largestEigenvalue(
  rt: GpuRuntime,
  gram: GPUBuffer,
  n: number,
  options: PowerIterationOptions = {},
): Promise<number> {
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-7;
  // A fixed seed: the same Gram always gives the same L, so runs are reproducible.
  const start = new Random(0x5eed).uniform(n, 0.5, 1.5);
  const unit = Math.sqrt(start.reduce((s, x) => s + x * x, 0));
  const owned: TrackedBuffer[] = [];
  try {
    owned.push(
      await rt.upload(
        'power iteration x',
        'scratch',
        start.map((v) => v / unit),
      ),
    );
    owned.push(await rt.createBuffer('power iteration y', 'scratch', 4 * n));
    owned.push(await rt.createBuffer('rayleigh quotient', 'scratch', 4));
    const [first, second, dot] = owned as [TrackedBuffer, TrackedBuffer, TrackedBuffer];
    let estimate = 0;
    for (let it = 0; it < maxIterations; it++) {
      const [x, y] = it % 2 === 0 ? [first, second] : [second, first];
      // x is a unit vector: y = G·x, the Rayleigh quotient xᵀy (its error shrinks as (λ₂/λ₁)^2k,
      // twice as fast as ‖y‖'s), then x ← y/‖y‖.
      await matmul(rt, { a: gram, b: x.buffer, c: y.buffer, m: n, n: 1, k: n });
      await matmul(rt, { a: x.buffer, b: y.buffer, c: dot.buffer, m: 1, n: 1, k: n });
      const rayleigh = (await rt.readF32(dot.buffer))[0] as number;
      const norm = Math.sqrt(await reduceToNumber(rt, 'sumsq', n, { buffer: y.buffer }));
      if (!Number.isFinite(norm) || !Number.isFinite(rayleigh))
        throw new DegenerateGramError('the Gram matrix holds NaN or infinite values');
      if (norm === 0)
        throw new DegenerateGramError('the Gram matrix is zero: the operator never saw a non-zero input');
      await scale(rt, n, 1 / norm, { buffer: y.buffer });
      const converged = Math.abs(rayleigh - estimate) <= tolerance * rayleigh;
      estimate = rayleigh;
      if (converged) break;
    }
    return estimate;
  } finally {
    for (const b of owned) b.destroy();
  }
}

/** L for FISTA's step: the eigenvalue estimate raised by LIPSCHITZ_MARGIN. */
export async function lipschitzConstant(rt: GpuRuntime, gram: GPUBuffer, n: number): Promise<number> {
  return (1 + LIPSCHITZ_MARGIN) * (await largestEigenvalue(rt, gram, n));
}
