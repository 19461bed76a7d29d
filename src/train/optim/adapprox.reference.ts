// Adapprox in float64 on the CPU, the same algorithm as adapprox.ts (docs/algorithms/adapprox.md §1), for tests only.
// mode 'sketch' runs S-RSI with the same Gaussian test matrices as the GPU (same seed, same hash),
// orthonormalising by modified Gram–Schmidt applied twice (a different method from the engine's
// CholeskyQR on the GPU: the subspace is the same, the signs of the columns may differ, Q·Uᵀ does not).
// mode 'exact' keeps the dense V of every matrix between steps: the algorithm Adapprox becomes at
// full rank with no sketch error.

import { gaussianAt, gram, sketchKey, symmetricEigen } from './srsi';

export interface AdapproxReferenceOptions {
  beta1: number;
  beta2: number;
  eps: number;
  eps1: number;
  clipThreshold: number;
  weightDecay: number;
  kMin: (rows: number, cols: number) => number;
  kMax: (rows: number, cols: number) => number;
  /** Default k_min. */
  k0: ((rows: number, cols: number) => number) | null;
  deltaK: number;
  errorThreshold: number;
  oversampling: number;
  powerIterations: number;
  warmStart: boolean;
  denseBelow: number;
  guidance: 'off' | 'half' | 'positive';
  seed: number;
  mode: 'sketch' | 'exact';
}

export const ADAPPROX_DEFAULTS: AdapproxReferenceOptions = {
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  eps1: 1e-30,
  clipThreshold: 1,
  weightDecay: 1e-2,
  kMin: () => 1,
  kMax: (r, c) => Math.max(1, Math.floor(Math.min(r, c) / 4)),
  k0: null,
  deltaK: 8,
  errorThreshold: 0.03,
  oversampling: 5,
  powerIterations: 2,
  warmStart: true,
  denseBelow: 8,
  guidance: 'off',
  seed: 1,
  mode: 'sketch',
};

interface State {
  t: number;
  m?: Float64Array;
  /** Dense parameters, and every matrix in 'exact' mode. */
  v?: Float64Array;
  /** Oriented factors: Q short × k, U long × k, V ≈ Q·Uᵀ in short × long orientation. */
  q?: Float64Array;
  u?: Float64Array;
  k: number;
}

export interface ReferenceStepRecord {
  /** max |update| applied this step before the learning rate (s·M or Û). */
  update: number;
  /** max |clip·Û| this step. */
  clipped: number;
  /** This step's dense V (rows × cols, unoriented). */
  v: Float64Array;
  /** Rank after this step's compression (0 for dense parameters). */
  rank: number;
  /** ξ at that rank. */
  error: number;
  clamped: number;
}

export class AdapproxReference {
  readonly o: AdapproxReferenceOptions;
  readonly states = new Map<string, State>();
  readonly last = new Map<string, ReferenceStepRecord>();

  constructor(options: Partial<AdapproxReferenceOptions> = {}) {
    // As Adapprox: l defaults to 2 with the warm start and 5 with the cold one.
    const warmStart = options.warmStart ?? ADAPPROX_DEFAULTS.warmStart;
    this.o = { ...ADAPPROX_DEFAULTS, powerIterations: warmStart ? 2 : 5, ...options };
  }

  step(
    params: { name: string; rows: number; cols: number; p: Float64Array; g: ArrayLike<number> }[],
    lr: number,
  ): void {
    const o = this.o;
    for (const { name, rows, cols, p, g } of params) {
      const n = rows * cols;
      const short = Math.min(rows, cols);
      const factored = rows > 1 && cols > 1 && short >= o.denseBelow;
      let s = this.states.get(name);
      if (!s) {
        s = { t: 0, k: 0 };
        if (o.beta1 > 0) s.m = new Float64Array(n);
        if (!factored || o.mode === 'exact') s.v = new Float64Array(n);
        this.states.set(name, s);
      }
      s.t++;
      // History: the dense V, or Q·Uᵀ re-oriented to rows × cols.
      let history: Float64Array | null = s.v ?? null;
      if (!s.v && s.q && s.u) history = this.expand(s.q, s.u, s.k, rows, cols);
      const v = new Float64Array(n);
      let clamped = 0;
      for (let i = 0; i < n; i++) {
        const h = history ? (history[i] as number) : 0;
        if (history && h < 0) clamped++;
        v[i] = (history ? o.beta2 * Math.max(h, 0) : 0) + (1 - o.beta2) * ((g[i] as number) ** 2 + o.eps1);
      }
      if (s.v) s.v.set(v);
      const u = new Float64Array(n);
      let sum = 0;
      for (let i = 0; i < n; i++) {
        u[i] = (g[i] as number) / (Math.sqrt(v[i] as number) + o.eps);
        sum += (u[i] as number) ** 2;
      }
      const clip = 1 / Math.max(1, Math.sqrt(sum / n) / o.clipThreshold);
      let clippedMax = 0;
      for (let i = 0; i < n; i++) {
        u[i] = (u[i] as number) * clip;
        clippedMax = Math.max(clippedMax, Math.abs(u[i] as number));
      }
      let d: Float64Array = u;
      let scale = 1;
      if (s.m) {
        for (let i = 0; i < n; i++) s.m[i] = o.beta1 * (s.m[i] as number) + (1 - o.beta1) * (u[i] as number);
        d = s.m;
        if (o.guidance !== 'off') {
          let dot = 0;
          let mm = 0;
          let uu = 0;
          for (let i = 0; i < n; i++) {
            dot += (s.m[i] as number) * (u[i] as number);
            mm += (s.m[i] as number) ** 2;
            uu += (u[i] as number) ** 2;
          }
          const c = dot / (Math.sqrt(mm) * Math.sqrt(uu) + 1e-12);
          scale = o.guidance === 'half' ? (1 + c) / 2 : Math.max(c, 0);
        }
      }
      let update = 0;
      for (let i = 0; i < n; i++) {
        const step = scale * (d[i] as number);
        update = Math.max(update, Math.abs(step));
        p[i] = (p[i] as number) - lr * (step + o.weightDecay * (p[i] as number));
      }
      let rank = 0;
      let error = 0;
      if (factored && o.mode === 'sketch') [rank, error] = this.compress(name, s, v, rows, cols);
      this.last.set(name, { update, clipped: clippedMax, v, rank, error, clamped });
    }
  }

  /** Q·Uᵀ (short × long) as a rows × cols matrix. */
  private expand(q: Float64Array, u: Float64Array, k: number, rows: number, cols: number): Float64Array {
    const short = Math.min(rows, cols);
    const long = Math.max(rows, cols);
    const out = new Float64Array(rows * cols);
    for (let i = 0; i < short; i++)
      for (let j = 0; j < long; j++) {
        let h = 0;
        for (let c = 0; c < k; c++) h += (q[i * k + c] as number) * (u[j * k + c] as number);
        out[rows <= cols ? i * cols + j : j * cols + i] = h;
      }
    return out;
  }

  private compress(name: string, s: State, v: Float64Array, rows: number, cols: number): [number, number] {
    const o = this.o;
    const short = Math.min(rows, cols);
    const long = Math.max(rows, cols);
    // V oriented short × long.
    const at = (i: number, j: number) =>
      rows <= cols ? (v[i * cols + j] as number) : (v[j * cols + i] as number);
    const kMin = o.kMin(rows, cols);
    const kMax = o.kMax(rows, cols);
    const kPrev = s.k > 0 ? s.k : (o.k0 ?? o.kMin)(rows, cols);
    const kCap = Math.min(kPrev + o.deltaK, kMax);
    const w = Math.min(kCap + o.oversampling, short);
    const key = sketchKey(o.seed, name, s.t);
    let omega = new Float64Array(long * w);
    for (let j = 0; j < long; j++)
      for (let c = 0; c < w; c++)
        omega[j * w + c] =
          o.warmStart && s.u && c < s.k ? (s.u[j * s.k + c] as number) : gaussianAt(key, j * w + c);
    let q: Float64Array = new Float64Array(short * w);
    for (let it = 0; it < o.powerIterations; it++) {
      const y = new Float64Array(short * w);
      for (let i = 0; i < short; i++)
        for (let j = 0; j < long; j++) {
          const x = at(i, j);
          for (let c = 0; c < w; c++)
            y[i * w + c] = (y[i * w + c] as number) + x * (omega[j * w + c] as number);
        }
      q = gramSchmidtTwice(y, short, w);
      const next = new Float64Array(long * w);
      for (let i = 0; i < short; i++)
        for (let j = 0; j < long; j++) {
          const x = at(i, j);
          for (let c = 0; c < w; c++)
            next[j * w + c] = (next[j * w + c] as number) + x * (q[i * w + c] as number);
        }
      omega = next;
    }
    let s2 = 0;
    for (const x of v) s2 += x * x;
    const { values, vectors } = symmetricEigen(gram(omega, long, w), w);
    let k = kCap;
    let kept = 0;
    const errorAt = (j: number) => {
      let sum = 0;
      for (let i = 0; i < j; i++) sum += Math.max(values[i] as number, 0);
      return s2 > 0 ? Math.sqrt(Math.max(s2 - sum, 0) / s2) : 0;
    };
    for (let j = kMin; j <= kCap; j++)
      if (errorAt(j) <= o.errorThreshold) {
        k = j;
        break;
      }
    kept = errorAt(k);
    const rotate = (x: Float64Array, rowsOf: number) => {
      const out = new Float64Array(rowsOf * k);
      for (let i = 0; i < rowsOf; i++)
        for (let c = 0; c < k; c++) {
          let sum = 0;
          for (let r = 0; r < w; r++) sum += (x[i * w + r] as number) * (vectors[r * w + c] as number);
          out[i * k + c] = sum;
        }
      return out;
    };
    s.q = rotate(q, short);
    s.u = rotate(omega, long);
    s.k = k;
    return [k, kept];
  }
}

/** Orthonormal columns spanning those of y (rows × cols), by modified Gram–Schmidt run twice. */
function gramSchmidtTwice(y: Float64Array, rows: number, cols: number): Float64Array {
  const q = Float64Array.from(y);
  for (let pass = 0; pass < 2; pass++)
    for (let c = 0; c < cols; c++) {
      for (let prev = 0; prev < c; prev++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += (q[i * cols + prev] as number) * (q[i * cols + c] as number);
        for (let i = 0; i < rows; i++)
          q[i * cols + c] = (q[i * cols + c] as number) - dot * (q[i * cols + prev] as number);
      }
      let norm = 0;
      for (let i = 0; i < rows; i++) norm += (q[i * cols + c] as number) ** 2;
      norm = Math.sqrt(norm);
      for (let i = 0; i < rows; i++) q[i * cols + c] = norm > 0 ? (q[i * cols + c] as number) / norm : 0;
    }
  return q;
}
