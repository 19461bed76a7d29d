// Float64 CPU references for every kernel. The kernel check and the tests compare GPU results
// with these. Besides each result, the references return the scale that bounds its rounding
// error (for a dot product, Σ|aᵢ||bᵢ|), so a check can state a rigorous relative bound instead of
// a tuned tolerance.

export interface Reference {
  value: Float64Array;
  /** Per element: the magnitude the f32 rounding error is proportional to. */
  scale: Float64Array;
}

export interface MatmulRefArgs {
  a: Float32Array;
  b: Float32Array;
  c0?: Float32Array;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

/** C = alpha · op(A) · op(B) + beta · C0 with packed operands. */
export function matmulReference(args: MatmulRefArgs): Reference {
  const { a, b, m, n, k } = args;
  const alpha = args.alpha ?? 1;
  const beta = args.beta ?? 0;
  const value = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  const at = (i: number, p: number) => (args.transA ? (a[p * m + i] as number) : (a[i * k + p] as number));
  const bt = (p: number, j: number) => (args.transB ? (b[j * k + p] as number) : (b[p * n + j] as number));
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      let abs = 0;
      for (let p = 0; p < k; p++) {
        const term = at(i, p) * bt(p, j);
        dot += term;
        abs += Math.abs(term);
      }
      const c0 = beta === 0 ? 0 : ((args.c0?.[i * n + j] as number) ?? 0);
      value[i * n + j] = alpha * dot + beta * c0;
      scale[i * n + j] = Math.abs(alpha) * abs + Math.abs(beta * c0);
    }
  }
  return { value, scale };
}

/** G0 + alpha · XᵀX for X rows × width. */
export function gramReference(
  x: Float32Array,
  rows: number,
  width: number,
  g0: Float32Array,
  alpha = 1,
): Reference {
  return matmulReference({ a: x, b: x, c0: g0, m: width, n: width, k: rows, transA: true, alpha, beta: 1 });
}

export function axpyReference(a: number, x: Float32Array, y: Float32Array): Reference {
  const value = new Float64Array(x.length);
  const scale = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    value[i] = a * (x[i] as number) + (y[i] as number);
    scale[i] = Math.abs(a * (x[i] as number)) + Math.abs(y[i] as number);
  }
  return { value, scale };
}

export function scaleReference(a: number, x: Float32Array): Reference {
  const value = new Float64Array(x.length);
  const scale = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    value[i] = a * (x[i] as number);
    scale[i] = Math.abs(value[i] as number);
  }
  return { value, scale };
}

export function softThresholdReference(tau: number, x: Float32Array): Reference {
  const value = new Float64Array(x.length);
  const scale = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    value[i] = Math.sign(v) * Math.max(Math.abs(v) - tau, 0);
    scale[i] = Math.abs(v) + tau;
  }
  return { value, scale };
}

export type ReduceRefOp = 'sum' | 'sumsq' | 'maxabs';

/** One value, with Σ|mapped xᵢ| as its error scale. */
export function reduceReference(op: ReduceRefOp, x: Float32Array): Reference {
  let value = 0;
  let scale = 0;
  for (const v of x) {
    if (op === 'maxabs') {
      value = Math.max(value, Math.abs(v));
    } else {
      const mapped = op === 'sum' ? v : v * v;
      value += mapped;
      scale += Math.abs(mapped);
    }
  }
  return { value: Float64Array.of(value), scale: Float64Array.of(op === 'maxabs' ? value : scale) };
}

export function transposeReference(x: Float32Array, rows: number, cols: number): Reference {
  const value = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) value[c * rows + r] = x[r * cols + c] as number;
  }
  return { value, scale: value.map(Math.abs) };
}

/**
 * Largest error of a GPU result relative to its reference scale: max |gpu − ref| / scale, with
 * scale floored at the smallest normal f32 so that exact zeros compare as zeros. NaN anywhere
 * yields Infinity, so a kernel that leaves poisoned output fails.
 */
export function relativeError(gpu: Float32Array, ref: Reference): number {
  if (gpu.length !== ref.value.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < gpu.length; i++) {
    const g = gpu[i] as number;
    if (!Number.isFinite(g)) return Number.POSITIVE_INFINITY;
    const err =
      Math.abs(g - (ref.value[i] as number)) / Math.max(ref.scale[i] as number, 1.1754943508222875e-38);
    if (err > worst) worst = err;
  }
  return worst;
}

/** Unit roundoff of f32. */
export const F32_EPS = 2 ** -24;
