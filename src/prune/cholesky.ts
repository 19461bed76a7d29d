// Dense float64 factorizations for SparseGPT's inverse Hessian, on the CPU on purpose (docs/DESIGN.md
// allows small factorizations there): the n × n Cholesky must fail loudly on a matrix that is not
// positive definite, so that more damping can be tried, and f64 keeps H⁻¹ accurate where f32 would
// lose the small eigenvalues. Cost: about n³ flops in all (n³/3 per factorization and n³/3 for the
// inverse), a fraction of a second for n = 768 and tens of seconds for n = 4096 in JavaScript.

export class NotPositiveDefiniteError extends Error {
  override name = 'NotPositiveDefiniteError';
}

/** Lower Cholesky factor L (row-major n × n) with A = L·Lᵀ; throws when A is not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j] as number;
    for (let k = 0; k < j; k++) d -= (l[j * n + k] as number) ** 2;
    if (!(d > 0))
      throw new NotPositiveDefiniteError(`the matrix is not positive definite (pivot ${j} is ${d})`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * n + k] as number) * (l[j * n + k] as number);
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** A⁻¹ from A's lower Cholesky factor: A⁻¹ = L⁻ᵀ·L⁻¹. */
export function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  // X = L⁻¹ by forward substitution, column by column of the identity.
  const x = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let i = c; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= (l[i * n + k] as number) * (x[k * n + c] as number);
      x[i * n + c] = s / (l[i * n + i] as number);
    }
  }
  // A⁻¹ = Xᵀ·X, symmetric: fill the upper triangle and mirror it.
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = j; k < n; k++) s += (x[k * n + i] as number) * (x[k * n + j] as number);
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  return inv;
}

/** Upper Cholesky factor U with A = Uᵀ·U (the transpose of the lower factor). */
export function upperCholesky(a: Float64Array, n: number): Float64Array {
  const l = cholesky(a, n);
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) u[i * n + j] = l[j * n + i] as number;
  return u;
}
