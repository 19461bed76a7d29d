// Float64 references for the FISTAPruner tests: the LASSO objective and its optimum, computed
// directly from token matrices or from f64 statistics, independently of the GPU formulation.

import type { GpuRuntime } from '../gpu/runtime';
import type { Random } from '../kernels/random';
import type { OperatorProblem } from './fista';

/** Row-major a (r × k) times b (k × c), in f64. */
export function matmul64(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  r: number,
  k: number,
  c: number,
): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++)
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p] as number;
      if (x === 0) continue;
      for (let j = 0; j < c; j++) out[i * c + j] = (out[i * c + j] as number) + x * (b[p * c + j] as number);
    }
  return out;
}

/** aᵀb for token matrices a, b (tokens × n): Σ_t a_t b_tᵀ, n × n. */
export function crossGram64(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  tokens: number,
  n: number,
): Float64Array {
  // As the product aᵀ·b: each entry sums over the tokens in order, as Σ_t would.
  const aT = new Float64Array(n * tokens);
  for (let t = 0; t < tokens; t++) for (let i = 0; i < n; i++) aT[i * tokens + t] = a[t * n + i] as number;
  return matmul64(aT, b, n, tokens, n);
}

/** ‖V X*ᵀ − W Xᵀ‖²_F straight from the tokens (X, X* are tokens × n; V, W are m × n). */
export function tokenError64(
  v: ArrayLike<number>,
  w: ArrayLike<number>,
  x: ArrayLike<number>,
  xStar: ArrayLike<number>,
  m: number,
  n: number,
  tokens: number,
): number {
  let sum = 0;
  for (let t = 0; t < tokens; t++)
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let j = 0; j < n; j++)
        r +=
          (v[i * n + j] as number) * (xStar[t * n + j] as number) -
          (w[i * n + j] as number) * (x[t * n + j] as number);
      sum += r * r;
    }
  return sum;
}

export interface Lasso64 {
  m: number;
  n: number;
  /** n × n Gram. */
  g: Float64Array;
  /** m × n linear term. */
  b: Float64Array;
  /** The constant ‖WX‖². */
  c0: number;
}

/** F(V) = ½(Σ V⊙(VG − 2B) + c0) + λ‖V‖₁. */
export function lassoObjective64(p: Lasso64, v: ArrayLike<number>, lambda: number): number {
  const vg = matmul64(v, p.g, p.m, p.n, p.n);
  let quad = p.c0;
  let l1 = 0;
  for (let i = 0; i < p.m * p.n; i++) {
    const x = v[i] as number;
    quad += x * ((vg[i] as number) - 2 * (p.b[i] as number));
    l1 += Math.abs(x);
  }
  return quad / 2 + lambda * l1;
}

/** The gradient V·G − B. */
export function lassoGradient64(p: Lasso64, v: ArrayLike<number>): Float64Array {
  const vg = matmul64(v, p.g, p.m, p.n, p.n);
  for (let i = 0; i < vg.length; i++) vg[i] = (vg[i] as number) - (p.b[i] as number);
  return vg;
}

/** λ_max of a symmetric PSD matrix by f64 power iteration run to convergence. */
export function largestEigenvalue64(g: Float64Array, n: number): number {
  let v = new Float64Array(n).fill(1 / Math.sqrt(n));
  let estimate = 0;
  for (let it = 0; it < 100_000; it++) {
    const u = matmul64(g, v, n, n, 1);
    const norm = Math.hypot(...u);
    v = u.map((x) => x / norm);
    if (Math.abs(norm - estimate) <= 1e-14 * norm) return norm;
    estimate = norm;
  }
  return estimate;
}

/** The LASSO optimum by f64 proximal gradient (ISTA, monotone) run until the iterates stop moving. */
export function lassoOptimum64(p: Lasso64, lambda: number, start: ArrayLike<number>): Float64Array {
  const L = largestEigenvalue64(p.g, p.n);
  let w = Float64Array.from(start);
  for (let it = 0; it < 200_000; it++) {
    const grad = lassoGradient64(p, w);
    let change = 0;
    let size = 0;
    const next = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) {
      const z = (w[i] as number) - (grad[i] as number) / L;
      next[i] = Math.sign(z) * Math.max(Math.abs(z) - lambda / L, 0);
      change += ((next[i] as number) - (w[i] as number)) ** 2;
      size += (next[i] as number) ** 2;
    }
    w = next;
    if (change <= 1e-26 * size) break;
  }
  return w;
}

/** A random operator: weights, a dense input x and a perturbed input x* (as if earlier operators were pruned), with f64 statistics. */
export interface Layer {
  m: number;
  n: number;
  tokens: number;
  w: Float32Array;
  x: Float32Array;
  xStar: Float32Array;
  lasso: Lasso64;
}

export function randomLayer(
  random: Random,
  m: number,
  n: number,
  tokens: number,
  perturbation: number,
): Layer {
  const w = random.uniform(m * n);
  const x = random.uniform(tokens * n);
  const noise = random.uniform(tokens * n, -perturbation, perturbation);
  const xStar = x.map((v, i) => v + (noise[i] as number));
  const g = crossGram64(xStar, xStar, tokens, n);
  const c = crossGram64(x, xStar, tokens, n);
  const h = crossGram64(x, x, tokens, n);
  const b = matmul64(w, c, m, n, n);
  const wh = matmul64(w, h, m, n, n);
  const c0 = wh.reduce((s, v, i) => s + v * (w[i] as number), 0);
  return { m, n, tokens, w, x, xStar, lasso: { m, n, g, b, c0 } };
}

/** Uploads test data to the GPU and frees it all at once (the FISTA tests' buffers). */
export class TestUploads {
  private readonly owned: { destroy(): void }[] = [];
  constructor(private readonly rt: GpuRuntime) {}

  async up(data: Float32Array | Float64Array): Promise<GPUBuffer> {
    const b = await this.rt.upload('test', 'scratch', Float32Array.from(data));
    this.owned.push(b);
    return b.buffer;
  }

  /** A layer's statistics as the GPU problem FISTA solves. */
  async problem(layer: Layer): Promise<OperatorProblem> {
    return {
      rows: layer.m,
      cols: layer.n,
      gram: await this.up(layer.lasso.g),
      b: await this.up(layer.lasso.b),
      denseEnergy: layer.lasso.c0,
    };
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
