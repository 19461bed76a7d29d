// The small dense pieces of Adapprox's S-RSI (specs/adapprox.md §1.3–§1.4, §2), in float64 on the
// CPU as docs/DESIGN.md allows: the thin QR of the sketch Y (short side × w) and the
// eigendecomposition of the w × w Gram matrix of U, with w = k + p at most a few dozen here. The
// O(mn) work (the GEMMs against V) stays on the GPU.
// Why the CPU: spec §8 found CholeskyQR failing in f32 (Gram condition numbers near 1e10), and
// Householder QR is a sequential column loop that a GPU does badly at this size; in float64 it is
// backward stable and costs s·w² flops. Its price is a read-back of Y and an upload of Q per power
// iteration.
// Also here: the counter-based hash that seeds the Gaussian test matrix (the GPU draws the values,
// shaders/adapprox.wgsl), and the single-pass rank rule.

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

/** Aᵀ·A for A rows × cols (row-major), in float64. */
export function gram(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const g = new Float64Array(cols * cols);
  for (let i = 0; i < rows; i++)
    for (let p = 0; p < cols; p++) {
      const x = a[i * cols + p] as number;
      if (x === 0) continue;
      for (let q = p; q < cols; q++)
        g[p * cols + q] = (g[p * cols + q] as number) + x * (a[i * cols + q] as number);
    }
  for (let p = 0; p < cols; p++) for (let q = 0; q < p; q++) g[p * cols + q] = g[q * cols + p] as number;
  return g;
}

/**
 * Eigenvalues (descending) and eigenvectors (column j of `vectors`, n × n row-major) of a symmetric
 * matrix, by cyclic Jacobi rotations: accurate to a few ulps of ‖A‖ for any spectrum, and cheap for
 * the w ≤ ~70 this is used at.
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const e = new Float64Array(n * n);
  for (let i = 0; i < n; i++) e[i * n + i] = 1;
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0;
    let total = 0;
    for (let p = 0; p < n; p++)
      for (let q = 0; q < n; q++) {
        const x = (m[p * n + q] as number) ** 2;
        total += x;
        if (p !== q) off += x;
      }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q] as number;
        if (apq === 0) continue;
        const app = m[p * n + p] as number;
        const aqq = m[q * n + q] as number;
        // The rotation that zeroes (p, q): t = tan θ, the smaller root of t² + 2τt − 1 = 0.
        const tau = (aqq - app) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p] as number;
          const mkq = m[k * n + q] as number;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k] as number;
          const mqk = m[q * n + k] as number;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const ekp = e[k * n + p] as number;
          const ekq = e[k * n + q] as number;
          e[k * n + p] = c * ekp - s * ekq;
          e[k * n + q] = s * ekp + c * ekq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (x, y) => (m[y * n + y] as number) - (m[x * n + x] as number),
  );
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (const [j, src] of order.entries()) {
    values[j] = m[src * n + src] as number;
    for (let k = 0; k < n; k++) vectors[k * n + j] = e[k * n + src] as number;
  }
  return { values, vectors };
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
 * inside the sketched subspace, for j = 0…w (spec §1.4: ‖V − QUᵀ‖² = ‖V‖² − ‖U‖², and the
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
 * The single-pass rank rule (spec §1.4 and §2, a reconstruction): the smallest j in [kMin, kCap]
 * whose error is at most the threshold, else kCap = min(k_prev + Δk, k_max), so the rank grows by
 * at most Δk per step and may shrink to any j the spectrum allows.
 */
export function chooseRank(errors: Float64Array, kMin: number, kCap: number, threshold: number): number {
  for (let j = kMin; j <= kCap; j++) if ((errors[j] as number) <= threshold) return j;
  return kCap;
}

/** lowbias32 (C. Wellons' integer hash; an invertible mix of xor-shifts and multiplies). */
export function hash32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a of a string's UTF-16 code units. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** The key of one parameter's Gaussian test matrix at step t: fresh per step, replayable from the seed. */
export function sketchKey(seed: number, name: string, t: number): number {
  return hash32((seed >>> 0) ^ hash32(hashName(name) ^ hash32(t)));
}

/**
 * Element `index` of the standard normal stream of `key` (Box–Muller on two 24-bit uniforms), as
 * shaders/adapprox.wgsl computes it in f32; here in float64 for the reference.
 */
export function gaussianAt(key: number, index: number): number {
  const a = hash32(key ^ hash32(2 * index));
  const b = hash32(key ^ hash32(2 * index + 1));
  const u1 = ((a >>> 8) + 0.5) / 16777216;
  const u2 = (b >>> 8) / 16777216;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
