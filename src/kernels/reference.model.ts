// Float64 CPU references for the transformer kernels (embedding, norms, RoPE, attention,
// activations, cross-entropy), in the manner of reference.ts: each returns the exact value and,
// per element, the scale its f32 rounding error is proportional to, and each kernel's bound is a
// function here so the suite and the targeted tests state the same one. ε = F32_EPS = 2^-24, the
// unit roundoff; an ulp of a value in [1, 2) is 2ε. The bounds allow exp, exp2 and log the few
// ulps WGSL implementations deliver (measured on SwiftShader: exp2 3ε, exp 6ε, log 5ε relative),
// within the spec's allowances. sin and cos are not taken from WGSL, whose allowance (2^-11
// absolute) SwiftShader really uses; rope.wgsl computes them.

import { crossEntropyGroupSize } from './crossEntropy';
import { normGroupSize } from './norm';
import type { NormKernel } from './normKernel';
import { F32_EPS, type Reference } from './reference';

// ——— Embedding ———

/** out[t, :] = table[ids[t], :] (+ out0[t, :] when accumulating). */
export function embeddingReference(
  table: Float32Array,
  width: number,
  ids: Uint32Array,
  out0?: Float32Array,
): Reference {
  const value = new Float64Array(ids.length * width);
  const scale = new Float64Array(ids.length * width);
  ids.forEach((id, t) => {
    for (let c = 0; c < width; c++) {
      const row = table[id * width + c] as number;
      const prior = out0 ? (out0[t * width + c] as number) : 0;
      value[t * width + c] = prior + row;
      scale[t * width + c] = Math.abs(prior) + Math.abs(row);
    }
  });
  return { value, scale };
}

/** A copy is exact; accumulating is one rounding. */
export function embeddingBound(accumulate: boolean): number {
  return accumulate ? F32_EPS : 0;
}

// ——— LayerNorm and RMSNorm ———

/**
 * The longest chain of f32 additions in a one-workgroup row sum (norm.wgsl, crossEntropy.wgsl):
 * ceil(width / 256) serial terms per invocation, then 8 pairwise levels.
 */
export function rowSumDepth(width: number): number {
  return Math.ceil(width / 256) + 8;
}

/**
 * LayerNorm y = (x − μ)·r·g + b with r = 1/sqrt(var + eps). The scale per element is
 * r·|g|·(|x − μ| + mean|x|) + |b|: the computed mean is off by ≤ (depth + 1)ε·mean|x|, which
 * shifts every x − μ by that much, and the relative error of r, ≤ ((depth + 4)/2 + 8)ε from the sum
 * of squares, the eps add, sqrt and the division, scales |x − μ|. See layerNormBound.
 */
export function layerNormReference(
  x: Float32Array,
  rows: number,
  width: number,
  g: Float32Array,
  b: Float32Array,
  eps: number,
): Reference {
  const value = new Float64Array(rows * width);
  const scale = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * width, (r + 1) * width);
    let sum = 0;
    let abs = 0;
    for (const v of row) {
      sum += v;
      abs += Math.abs(v);
    }
    const mean = sum / width;
    let squares = 0;
    for (const v of row) squares += (v - mean) ** 2;
    const inv = 1 / Math.sqrt(squares / width + eps);
    for (let c = 0; c < width; c++) {
      const d = (row[c] as number) - mean;
      const gc = g[c] as number;
      const bc = b[c] as number;
      value[r * width + c] = d * inv * gc + bc;
      scale[r * width + c] = inv * Math.abs(gc) * (Math.abs(d) + abs / width) + Math.abs(bc);
    }
  }
  return { value, scale };
}

/** RMSNorm y = x·r·g with r = 1/sqrt(mean(x²) + eps); the scale is |x|·r·|g|. */
export function rmsNormReference(
  x: Float32Array,
  rows: number,
  width: number,
  g: Float32Array,
  eps: number,
): Reference {
  const value = new Float64Array(rows * width);
  const scale = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let squares = 0;
    for (let c = 0; c < width; c++) squares += (x[r * width + c] as number) ** 2;
    const inv = 1 / Math.sqrt(squares / width + eps);
    for (let c = 0; c < width; c++) {
      const v = (x[r * width + c] as number) * inv * (g[c] as number);
      value[r * width + c] = v;
      scale[r * width + c] = Math.abs(v);
    }
  }
  return { value, scale };
}

/**
 * Both norms: the row sums (depth roundings: ceil(width / G) + log2 G for the workgroup size G of
 * norm.wgsl, ceil(width / 4) + 2 for normRow.wgsl's four lanes added pairwise; plus one for the
 * division by width), the deviation, and r (eps add, sqrt, division: up to 3 + 2.5 ulps in WGSL's
 * accuracy tables), then two products and the bias add. (depth + 32)ε covers the sum of these with
 * room for the ulp-level terms.
 */
export function normBound(width: number, kernel: NormKernel = 'workgroup'): number {
  if (kernel === 'row') return (Math.ceil(width / 4) + 2 + 32) * F32_EPS;
  const group = normGroupSize(width);
  return (Math.ceil(width / group) + Math.log2(group) + 32) * F32_EPS;
}

// ——— Rotary position embedding ———

export interface RopeRefOptions {
  convention: 'interleaved' | 'half';
  rotaryDim?: number;
  startPosition?: number;
  theta?: number;
}

/**
 * RoPE with the angle pos · θ^(−2i/rotaryDim) computed in float64. The scale of both elements of a
 * pair (a, b) is (|a| + |b|)·(1 + pos·freq): an absolute angle error δ moves the pair by at most
 * (|a| + |b|)·δ, and the kernel's angle error is proportional to pos·freq (see ropeBound).
 */
export function ropeReference(
  x: Float32Array,
  tokens: number,
  heads: number,
  headDim: number,
  options: RopeRefOptions,
): Reference {
  const rot = options.rotaryDim ?? headDim;
  const start = options.startPosition ?? 0;
  const theta = options.theta ?? 10000;
  const half = rot / 2;
  const value = Float64Array.from(x);
  const scale = Float64Array.from(x, Math.abs);
  for (let t = 0; t < tokens; t++) {
    const pos = start + t;
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const freq = theta ** ((-2 * i) / rot);
        const angle = pos * freq;
        const ia = base + (options.convention === 'half' ? i : 2 * i);
        const ib = ia + (options.convention === 'half' ? half : 1);
        const a = x[ia] as number;
        const b = x[ib] as number;
        value[ia] = a * Math.cos(angle) - b * Math.sin(angle);
        value[ib] = a * Math.sin(angle) + b * Math.cos(angle);
        const s = (Math.abs(a) + Math.abs(b)) * (1 + angle);
        scale[ia] = s;
        scale[ib] = s;
      }
    }
  }
  return { value, scale };
}

/**
 * RoPE's bound, against the scale (|a| + |b|)·(1 + pos·freq): a relative error of freq up to 12ε
 * (exp2 on [−1, 0] within 5 ulps, the rounded fraction of the exponent, the exact ldexp) plus one
 * rounding of pos·freq makes the angle error ≤ 13ε·pos·freq; the Cody–Waite reduction by π/2 adds
 * ≤ 2ε, the sin and cos polynomials 1ε each (rope.wgsl), and the rotation's two products and a sum
 * 4ε. 32ε holds all of it with margin (3ε is measured). A wrong pairing, position or frequency is
 * off by far more: a frequency 1e-4 too large already fails.
 */
export const ROPE_BOUND = 32 * F32_EPS;

// ——— Attention ———

export interface AttentionRefArgs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  tokens: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  scale?: number;
}

/**
 * Causal GQA attention on packed [T, H, D] / [T, Hkv, D] operands. With p_j the softmax weights of
 * query (t, h), A = max_j |scale|·Σ_d |q_d k_jd| (the largest score magnitude) and
 * u_d = Σ_j p_j |v_jd| + |out_d|, the scale of out[t, h, d] is u_d·(1 + A): an error δ in the
 * scores, proportional to A, moves the output by at most δ·u_d, and the rounding of the weighted
 * sums is proportional to u_d.
 */
export function attentionReference(args: AttentionRefArgs): Reference {
  const { q, k, v, tokens: T, heads: H, kvHeads: Hkv, headDim: D } = args;
  const sc = args.scale ?? 1 / Math.sqrt(D);
  const group = H / Hkv;
  const value = new Float64Array(T * H * D);
  const scale = new Float64Array(T * H * D);
  const scores = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      const kv = Math.floor(h / group);
      const qo = (t * H + h) * D;
      let max = Number.NEGATIVE_INFINITY;
      let magnitude = 0;
      for (let j = 0; j <= t; j++) {
        const ko = (j * Hkv + kv) * D;
        let dot = 0;
        let abs = 0;
        for (let d = 0; d < D; d++) {
          const term = (q[qo + d] as number) * (k[ko + d] as number);
          dot += term;
          abs += Math.abs(term);
        }
        scores[j] = sc * dot;
        max = Math.max(max, sc * dot);
        magnitude = Math.max(magnitude, Math.abs(sc) * abs);
      }
      let l = 0;
      for (let j = 0; j <= t; j++) {
        scores[j] = Math.exp((scores[j] as number) - max);
        l += scores[j] as number;
      }
      for (let d = 0; d < D; d++) {
        let sum = 0;
        let abs = 0;
        for (let j = 0; j <= t; j++) {
          const vj = v[(j * Hkv + kv) * D + d] as number;
          sum += (scores[j] as number) * vj;
          abs += (scores[j] as number) * Math.abs(vj);
        }
        value[qo + d] = sum / l;
        scale[qo + d] = (abs / l + Math.abs(sum / l)) * (1 + magnitude);
      }
    }
  }
  return { value, scale };
}

/**
 * Attention's bound for T keys at most and head dimension D, against the scale above: the scores
 * are D-term dot products split over 4 lanes (≤ D + 3 roundings of A, plus the scale product), the
 * subtraction of the maximum and exp (≤ 6 + 4|s − m| ulps-relative, a few ε·A after weighting),
 * then Σ p_j·v_jd and Σ p_j in chains of at most 2T + 2 additions and rescalings (T keys, one
 * rescale per chunk, the key-group sum), and the division. (2T + D + 32)ε covers these.
 */
export function attentionBound(tokens: number, headDim: number): number {
  return (2 * tokens + headDim + 32) * F32_EPS;
}

// ——— Activations ———

export type ActivationRefFn = 'gelu' | 'gelu_tanh' | 'relu' | 'silu';

/**
 * erf in float64: the Maclaurin series below 2.5 (terms peak near e^(x²) ≈ 520 there, so about
 * 1e-13 is lost to cancellation) and the continued fraction of erfc above, accurate to about 1e-13,
 * a million times finer than f32.
 */
export function erf(x: number): number {
  const t = Math.abs(x);
  if (t < 2.5) {
    let term = t;
    let sum = t;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  // erfc(t) = exp(−t²)/√π · 1/(t + (1/2)/(t + 1/(t + (3/2)/(t + 2/(t + …))))), evaluated bottom-up.
  let fraction = t;
  for (let n = 60; n >= 1; n--) fraction = t + n / 2 / fraction;
  const erfc = Math.exp(-t * t) / Math.sqrt(Math.PI) / fraction;
  return Math.sign(x) * (1 - erfc);
}

export function activate(fn: ActivationRefFn, x: number): number {
  switch (fn) {
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'relu':
      return Math.max(x, 0);
    case 'silu':
      return x / (1 + Math.exp(-x));
  }
}

/** y = f(x), with scale |x| (every f here has |f(x)| ≤ |x| and f′ bounded). */
export function activationReference(fn: ActivationRefFn, x: Float32Array): Reference {
  return { value: Float64Array.from(x, (v) => activate(fn, v)), scale: Float64Array.from(x, Math.abs) };
}

/** out = f(a)·b, with scale |a·b|. */
export function gatedReference(fn: ActivationRefFn, a: Float32Array, b: Float32Array): Reference {
  return {
    value: Float64Array.from(a, (v, i) => activate(fn, v) * (b[i] as number)),
    scale: Float64Array.from(a, (v, i) => Math.abs(v * (b[i] as number))),
  };
}

/**
 * The activations' bound against the scale |x| (|a·b| when gated). GELU: x·√½ (erf moves by
 * ≤ 0.5ε·|x|-relative), erf within 3.3ε absolute (see activation.wgsl), 1 + erf, and the products:
 * ≤ 6ε·|x|. GELU tanh: tanh via exp within a few ulps is ≤ 8ε absolute, u's own rounding ≤ 2ε:
 * ≤ 6ε·|x|. SiLU: exp within (3 + 2|x|) ulps changes x·σ(x) by ≤ 6ε·|x|. ReLU is exact. The gated
 * form adds one product. 16ε holds each with margin.
 */
export const ACTIVATION_BOUND = 16 * F32_EPS;

/** y[r, :] = y0[r, :] + bias[:], with scale |y0| + |bias| (one rounding). */
export function biasAddReference(
  y0: Float32Array,
  bias: Float32Array,
  rows: number,
  cols: number,
): Reference {
  const value = new Float64Array(rows * cols);
  const scale = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const y = y0[r * cols + c] as number;
      const b = bias[c] as number;
      value[r * cols + c] = y + b;
      scale[r * cols + c] = Math.abs(y) + Math.abs(b);
    }
  }
  return { value, scale };
}

export const BIAS_ADD_BOUND = F32_EPS;

// ——— Cross-entropy ———

/**
 * nll[t] = logsumexp(logits[t, :]) − logits[t, target[t]], 0 for ignored rows (target = ignore).
 * With m the row max and W = Σ p_j |x_j − m| (p the softmax), the scale is 1 + |m| + |x_target| +
 * W + nll: x_j − m is rounded relative to |x_j − m| (W after exp and weighting), log Σ turns the
 * relative error of the sum into an absolute one (the 1), and the final difference and sum round
 * relative to |m| + |x_target| + nll. See crossEntropyBound.
 */
export function crossEntropyReference(
  logits: Float32Array,
  rows: number,
  vocab: number,
  targets: Uint32Array,
  ignore = 0xffffffff,
): Reference {
  const value = new Float64Array(rows);
  const scale = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const target = targets[r] as number;
    if (target === ignore) {
      scale[r] = 1;
      continue;
    }
    const row = logits.subarray(r * vocab, (r + 1) * vocab);
    let m = Number.NEGATIVE_INFINITY;
    for (const x of row) m = Math.max(m, x);
    let sum = 0;
    let weighted = 0;
    for (const x of row) {
      const e = Math.exp(x - m);
      sum += e;
      weighted += e * (m - x);
    }
    const xt = row[target] as number;
    const nll = m + Math.log(sum) - xt;
    value[r] = nll;
    scale[r] = 1 + Math.abs(m) + Math.abs(xt) + weighted / sum + nll;
  }
  return { value, scale };
}

/**
 * The sum of exponentials is a chain of ceil(vocab / G) + log2(G) additions (G the workgroup size
 * of crossEntropy.wgsl); exp within 6ε + 4ε·|x − m| relative (the W term), log within 8ε absolute
 * near 1 and 3 ulps elsewhere, the max subtraction, and the final difference and sum:
 * (depth + 24)ε against the scale above.
 */
export function crossEntropyBound(vocab: number): number {
  const group = crossEntropyGroupSize(vocab);
  return (Math.ceil(vocab / group) + Math.log2(group) + 24) * F32_EPS;
}
