// Float64 references of shaders/train/optim/srsi.wgsl, for tests only: the thin QR of the sketch (Householder,
// backward stable in any precision), the A·B[:, :k] rotation, the truncation error of every rank
// and the single-pass rank rule (docs/training.md, "Adapprox"). With srsi.ts's gram and
// symmetricEigen they are the S-RSI that adapprox.reference.ts runs and the GPU kernels are
// checked against.

/** Thin QR by Householder reflections: the orthonormal rows × cols factor Q of a (rows ≥ cols). */
export function householderQ(a: Float64Array, rows: number, cols: number): Float64Array {
  if (cols > rows) throw new RangeError(`householderQ: ${rows}×${cols} has more columns than rows`);
  const r = Float64Array.from(a);
  const vs: Float64Array[] = [];
  for (let j = 0; j < cols; j++) {
    // v = x + sign(x₀)‖x‖e₀ over rows j…, so that (I − 2vvᵀ/vᵀv)x = −sign(x₀)‖x‖e₀.
    const v = new Float64Array(rows - j);
    let norm2 = 0;
    for (let i = j; i < rows; i++) {
      const x = r[i * cols + j] as number;
      v[i - j] = x;
      norm2 += x * x;
    }
    const norm = Math.sqrt(norm2);
    if (norm === 0) {
      vs.push(v);
      continue;
    }
    const x0 = v[0] as number;
    v[0] = x0 + (x0 >= 0 ? norm : -norm);
    let vv = 0;
    for (const x of v) vv += x * x;
    for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / Math.sqrt(vv);
    vs.push(v);
    // Apply to the remaining columns of R.
    for (let c = j; c < cols; c++) {
      let dot = 0;
      for (let i = j; i < rows; i++) dot += (v[i - j] as number) * (r[i * cols + c] as number);
      for (let i = j; i < rows; i++)
        r[i * cols + c] = (r[i * cols + c] as number) - 2 * dot * (v[i - j] as number);
    }
  }
  // Q = H₀H₁…H_{cols−1} applied to the first cols columns of the identity, last reflection first.
  const q = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) q[j * cols + j] = 1;
  for (let j = cols - 1; j >= 0; j--) {
    const v = vs[j] as Float64Array;
    if (v.every((x) => x === 0)) continue;
    for (let c = 0; c < cols; c++) {
      let dot = 0;
      for (let i = j; i < rows; i++) dot += (v[i - j] as number) * (q[i * cols + c] as number);
      if (dot === 0) continue;
      for (let i = j; i < rows; i++)
        q[i * cols + c] = (q[i * cols + c] as number) - 2 * dot * (v[i - j] as number);
    }
  }
  return q;
}

/** A·B[:, :k] for A rows × inner and B inner × bCols (row-major), in float64. */
export function timesColumns(
  a: ArrayLike<number>,
  rows: number,
  inner: number,
  b: Float64Array,
  bCols: number,
  k: number,
): Float64Array {
  const out = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++)
    for (let p = 0; p < inner; p++) {
      const x = a[i * inner + p] as number;
      if (x === 0) continue;
      for (let j = 0; j < k; j++)
        out[i * k + j] = (out[i * k + j] as number) + x * (b[p * bCols + j] as number);
    }
  return out;
}

/**
 * Relative Frobenius errors ξ_j = sqrt(max(‖V‖² − Σ_{i<j} λ_i, 0) / ‖V‖²) of the rank-j truncation
 * inside the sketched subspace, for j = 0…w (docs/training.md: ‖V − QUᵀ‖² = ‖V‖² − ‖U‖², and the
 * eigenvalues of UᵀU split ‖U‖² by rank).
 */
export function truncationErrors(s2: number, eigenvalues: Float64Array): Float64Array {
  const errors = new Float64Array(eigenvalues.length + 1);
  let kept = 0;
  for (let j = 0; j <= eigenvalues.length; j++) {
    errors[j] = s2 > 0 ? Math.sqrt(Math.max(s2 - kept, 0) / s2) : 0;
    kept += Math.max(eigenvalues[j] ?? 0, 0);
  }
  return errors;
}

/**
 * The single-pass rank rule (a reconstruction; docs/algorithms/adapprox.md §1.4): the smallest j in [kMin, kCap]
 * whose error is at most the threshold, else kCap = min(k_prev + Δk, k_max), so the rank grows by
 * at most Δk per step and may shrink to any j the spectrum allows.
 */
export function chooseRank(errors: Float64Array, kMin: number, kCap: number, threshold: number): number {
  for (let j = kMin; j <= kCap; j++) if ((errors[j] as number) <= threshold) return j;
  return kCap;
}
