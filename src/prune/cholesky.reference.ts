// Dense float64 linear algebra for SparseGPT's inverse Hessian, for tests and the benchmark only:
// Cholesky, the inverse from the Cholesky factor, and the upper Cholesky factor of that inverse (the
// reference code's cholesky → cholesky_inverse → cholesky(upper=True)), plus upperFactorOfInverse,
// the same factor in half the work (the index-reversed Cholesky, then a triangular inverse), which
// the GPU factor (hessianFactor.ts) computes the same way in f32 and is tested against.
//
// The engine used to run upperFactorOfInverse on the CPU; it is kept as the float64 yardstick:
// f64 keeps H⁻¹ accurate where f32 loses the small eigenvalues of a barely damped Gram. Cost, with
// every inner loop running along contiguous rows: n³/6 multiply-adds per Cholesky or triangular
// inverse, so n³/3 for upperFactorOfInverse and 2n³/3 for the three-step path. Measured in Node on a
// shared CPU, upperFactorOfInverse takes about 0.15 s at n = 768 on an idle machine (1.3 s on a busy
// one, bench/README.md), 1.2 s at 1536 and 30 s at 4096. Memory: two n × n f64 arrays besides the
// input.

export class NotPositiveDefiniteError extends Error {
  override name = 'NotPositiveDefiniteError';
}

/**
 * Lower Cholesky factor L (row-major n × n, zero above the diagonal) with A = L·Lᵀ. Reads only the
 * lower triangle of A. Throws NotPositiveDefiniteError when a pivot is not > 0 (NaN included).
 */
export function cholesky(a: ArrayLike<number>, n: number): Float64Array {
  checkSquare(a, n);
  const l = new Float64Array(n * n);
  // Row by row (Cholesky–Banachiewicz): L_ij = (A_ij − Σ_{k<j} L_ik·L_jk) / L_jj, both rows contiguous.
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j] as number;
      for (let k = 0; k < j; k++) s -= (l[ri + k] as number) * (l[rj + k] as number);
      if (j < i) {
        l[ri + j] = s / (l[rj + j] as number);
      } else {
        if (!(s > 0)) {
          throw new NotPositiveDefiniteError(
            `the matrix is not positive definite (pivot ${i} of ${n} is ${s})`,
          );
        }
        l[ri + i] = Math.sqrt(s);
      }
    }
  }
  return l;
}

/** A⁻¹ (symmetric, both triangles filled) from A's lower Cholesky factor L: A⁻¹ = L⁻ᵀ·L⁻¹. */
export function inverseFromCholesky(l: ArrayLike<number>, n: number): Float64Array {
  checkSquare(l, n);
  const y = inverseTransposed(l, n, new Float64Array(n * n));
  // A⁻¹ = L⁻ᵀ·L⁻¹ = Y·Yᵀ with Y = L⁻ᵀ: (A⁻¹)_ij = Σ_{k ≥ max(i, j)} Y_ik·Y_jk, contiguous rows.
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = i; j < n; j++) {
      const rj = j * n;
      let s = 0;
      for (let k = j; k < n; k++) s += (y[ri + k] as number) * (y[rj + k] as number);
      inv[ri + j] = s;
      inv[rj + i] = s;
    }
  }
  return inv;
}

/** Upper Cholesky factor U (zero below the diagonal) with A = Uᵀ·U: the transpose of the lower factor. */
export function upperCholesky(a: ArrayLike<number>, n: number): Float64Array {
  const l = cholesky(a, n);
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) u[i * n + j] = l[j * n + i] as number;
  return u;
}

/**
 * The upper Cholesky factor U of A⁻¹ (A⁻¹ = Uᵀ·U), what SparseGPT sweeps with, in half the work of
 * upperCholesky(inverseFromCholesky(cholesky(A))): factor A = R·Rᵀ with R upper triangular (the
 * Cholesky of A with its index order reversed), then U = R⁻¹, since (R⁻¹)ᵀ·R⁻¹ = (R·Rᵀ)⁻¹ and an upper
 * factor with a positive diagonal is unique. n³/6 multiply-adds for each of the two steps against
 * n³/6 + n³/3 + n³/6 for the three-step path, and fewer roundings. Throws NotPositiveDefiniteError
 * like cholesky.
 */
export function upperFactorOfInverse(a: ArrayLike<number>, n: number): Float64Array {
  checkSquare(a, n);
  // R from the last row up: R_ij = (A_ij − Σ_{k>j} R_ik·R_jk) / R_jj for i < j, R_ii = √(A_ii − Σ_{k>i} R_ik²).
  const r = new Float64Array(n * n);
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * n;
    for (let j = n - 1; j >= i; j--) {
      const rj = j * n;
      let s = a[ri + j] as number;
      for (let k = j + 1; k < n; k++) s -= (r[ri + k] as number) * (r[rj + k] as number);
      if (j > i) {
        r[ri + j] = s / (r[rj + j] as number);
      } else {
        if (!(s > 0)) {
          throw new NotPositiveDefiniteError(
            `the matrix is not positive definite (pivot ${i} of ${n}, factoring from the last, is ${s})`,
          );
        }
        r[ri + i] = Math.sqrt(s);
      }
    }
  }
  // Rᵀ, so that the columns of R read below are contiguous rows.
  const rt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) rt[j * n + i] = r[i * n + j] as number;
  // U = R⁻¹ = (Rᵀ)⁻ᵀ, written over R, whose rows are no longer needed.
  return inverseTransposed(rt, n, r.fill(0));
}

/**
 * L⁻ᵀ (upper triangular) of a lower-triangular L, into `out` (zeros below the diagonal), one row at a
 * time: row c is column c of L⁻¹, and forward substitution gives (L⁻ᵀ)_ci = (δ_ci − Σ_{c≤k<i}
 * L_ik·(L⁻ᵀ)_ck) / L_ii, a dot product of two contiguous rows.
 */
function inverseTransposed(l: ArrayLike<number>, n: number, out: Float64Array): Float64Array {
  for (let c = 0; c < n; c++) {
    const rc = c * n;
    for (let i = c; i < n; i++) {
      const ri = i * n;
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= (l[ri + k] as number) * (out[rc + k] as number);
      out[rc + i] = s / (l[ri + i] as number);
    }
  }
  return out;
}

function checkSquare(a: ArrayLike<number>, n: number): void {
  if (!Number.isInteger(n) || n < 0 || a.length < n * n) {
    throw new RangeError(`expected an ${n} × ${n} matrix, got ${a.length} elements`);
  }
}
