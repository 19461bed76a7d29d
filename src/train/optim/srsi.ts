// Pieces of Adapprox's S-RSI that run on the CPU: the counter-based hash that seeds the Gaussian
// test matrix (the GPU draws the values, shaders/train/optim/adapprox.wgsl, from the key computed here), and in
// float64 the Gram matrix and the symmetric eigensolver, which the training job's spectrum
// diagnostic (train/job.ts) and the tests use. The optimizer's own QR, eigendecomposition and rank
// rule run on the GPU (shaders/train/optim/srsi.wgsl); their float64 references are in srsi.reference.ts.

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
 * shaders/train/optim/adapprox.wgsl computes it in f32; here in float64 for the reference.
 */
export function gaussianAt(key: number, index: number): number {
  const a = hash32(key ^ hash32(2 * index));
  const b = hash32(key ^ hash32(2 * index + 1));
  const u1 = ((a >>> 8) + 0.5) / 16777216;
  const u2 = (b >>> 8) / 16777216;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
