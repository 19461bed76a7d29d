import { describe, expect, it } from 'vitest';
import { freshSeed, Random } from '../kernels/random';
import {
  cholesky,
  inverseFromCholesky,
  NotPositiveDefiniteError,
  upperCholesky,
  upperFactorOfInverse,
} from './cholesky.reference';
import { crossGram64 } from './fista.reference';

// Bounds (u = 2⁻⁵³, f64 unit roundoff):
// - Cholesky is backward stable: |A − L·Lᵀ|_ij ≤ γ_(n+1)·(|L|·|Lᵀ|)_ij ≤ γ_(n+1)·√(A_ii·A_jj), since the
//   rows of L have norms √A_ii; we allow 2·(n+1)·u·√(A_ii·A_jj).
// - An inverse from a backward-stable factorization has ‖A·X − I‖∞ ≤ c·n·u·κ∞(A); we allow
//   8·n·u·κ∞ elementwise (the elementwise error is at most the row sum).
// - Two computations of the same factor U of A⁻¹ differ by their forward errors, ≲ c·n·u·κ·|U|; we
//   allow 8·n·u·κ∞·max|U|.
const U64 = 2 ** -53;

function spd(seed: number, n: number): Float64Array {
  // A Gram of 3n random tokens: positive definite, κ in the tens to hundreds.
  const x = new Random(seed).uniform(3 * n * n);
  return crossGram64(x, x, 3 * n, n);
}

function product(a: Float64Array, b: Float64Array, n: number, transA = false): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++)
        s += (transA ? (a[k * n + i] as number) : (a[i * n + k] as number)) * (b[k * n + j] as number);
      out[i * n + j] = s;
    }
  return out;
}

function normInf(a: Float64Array, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.abs(a[i * n + j] as number);
    worst = Math.max(worst, s);
  }
  return worst;
}

describe('float64 Cholesky helpers', () => {
  for (const n of [1, 2, 9, 23, 64]) {
    it(`factor, invert and take the upper factor of the inverse: n = ${n}`, () => {
      const seed = freshSeed();
      const a = spd(seed, n);
      const l = cholesky(a, n);
      const inv = inverseFromCholesky(l, n);
      const u = upperCholesky(inv, n);
      const fast = upperFactorOfInverse(a, n);
      const kappa = normInf(a, n) * normInf(inv, n);
      const lt = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) lt[i * n + j] = l[j * n + i] as number;
      const llT = product(l, lt, n);
      const eye = product(a, inv, n);
      const utu = product(u, u, n, true);
      const fastInverse = product(fast, fast, n, true);
      const fastEye = product(a, fastInverse, n);
      let maxU = 0;
      for (const v of u) maxU = Math.max(maxU, Math.abs(v));
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          const at = `(${i}, ${j}), seed ${seed}`;
          const ij = i * n + j;
          const scaleA = Math.sqrt((a[i * n + i] as number) * (a[j * n + j] as number));
          const scaleInv = Math.sqrt((inv[i * n + i] as number) * (inv[j * n + j] as number));
          expect(Math.abs((llT[ij] as number) - (a[ij] as number)), `L·Lᵀ − A at ${at}`).toBeLessThanOrEqual(
            2 * (n + 1) * U64 * scaleA,
          );
          const delta = i === j ? 1 : 0;
          expect(Math.abs((eye[ij] as number) - delta), `A·A⁻¹ − I at ${at}`).toBeLessThanOrEqual(
            8 * n * U64 * kappa,
          );
          expect(Math.abs((fastEye[ij] as number) - delta), `A·(UᵀU) − I at ${at}`).toBeLessThanOrEqual(
            8 * n * U64 * kappa,
          );
          expect(
            Math.abs((utu[ij] as number) - (inv[ij] as number)),
            `Uᵀ·U − A⁻¹ at ${at}`,
          ).toBeLessThanOrEqual(2 * (n + 1) * U64 * scaleInv);
          expect(
            Math.abs((fast[ij] as number) - (u[ij] as number)),
            `two paths to U at ${at}`,
          ).toBeLessThanOrEqual(8 * n * U64 * kappa * maxU);
          expect(inv[ij], `A⁻¹ symmetric at ${at}`).toBe(inv[j * n + i]);
          if (j > i) expect(l[ij], `L lower at ${at}`).toBe(0);
          if (j < i) {
            expect(u[ij], `U upper at ${at}`).toBe(0);
            expect(fast[ij], `fast U upper at ${at}`).toBe(0);
          }
          if (i === j) expect(fast[ij] as number).toBeGreaterThan(0);
        }
    });
  }

  it('throws NotPositiveDefiniteError on indefinite, singular and NaN matrices', () => {
    const indefinite = new Float64Array([1, 2, 2, 1]);
    const singular = new Float64Array([1, 1, 1, 1]);
    const nan = new Float64Array([1, 0, 0, Number.NaN]);
    for (const m of [indefinite, singular, nan]) {
      expect(() => cholesky(m, 2)).toThrow(NotPositiveDefiniteError);
      expect(() => upperFactorOfInverse(m, 2)).toThrow(NotPositiveDefiniteError);
    }
    expect(() => cholesky(new Float64Array(3), 2)).toThrow(RangeError);
    expect(cholesky(new Float64Array(0), 0)).toEqual(new Float64Array(0));
  });
});
