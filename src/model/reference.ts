// A float64 CPU forward pass of every supported architecture, written plainly from the papers'
// definitions and sharing no code with the GPU path. Tests compare the GPU logits and perplexity
// with it; it is far too slow for anything but small models.

import { erf } from '../kernels/reference.model';
import type { ModelConfig } from './config';
import type { WindowScorer } from './perplexity';
import { canonicalTensors, type WeightSource } from './weights';

export type TensorMap = ReadonlyMap<string, Float32Array>;

/** Logits [tokens × vocab] for one causal sequence starting at position 0. */
export function referenceLogits(c: ModelConfig, w: TensorMap, ids: readonly number[]): Float64Array[] {
  const get = (name: string) => {
    const t = w.get(name);
    if (!t) throw new Error(`reference: missing ${name}`);
    return t;
  };
  const d = c.hidden;
  const T = ids.length;
  const x: Float64Array[] = ids.map((id, t) => {
    const row = new Float64Array(d);
    const emb = get('tok_embeddings');
    for (let i = 0; i < d; i++) row[i] = emb[id * d + i] as number;
    if (c.positions === 'learned') {
      const pos = get('pos_embeddings');
      for (let i = 0; i < d; i++)
        row[i] = (row[i] as number) + (pos[(t + c.positionOffset) * d + i] as number);
    }
    return row;
  });

  for (let l = 0; l < c.layers; l++) {
    const p = `layers.${l}`;
    const h = x.map((row) => norm(c, row, w, `${p}.attn_norm`));
    const q = h.map((row) => linear(row, w, `${p}.q`, c.bias));
    const k = h.map((row) => linear(row, w, `${p}.k`, c.bias));
    const v = h.map((row) => linear(row, w, `${p}.v`, c.bias));
    if (c.positions === 'rope') {
      for (let t = 0; t < T; t++) {
        rope(c, q[t] as Float64Array, c.heads, t);
        rope(c, k[t] as Float64Array, c.kvHeads, t);
      }
    }
    const group = c.heads / c.kvHeads;
    const D = c.headDim;
    for (let t = 0; t < T; t++) {
      const out = new Float64Array(c.heads * D);
      for (let head = 0; head < c.heads; head++) {
        const kvHead = Math.floor(head / group);
        const scores = new Float64Array(t + 1);
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j <= t; j++) {
          let s = 0;
          for (let i = 0; i < D; i++) {
            s +=
              ((q[t] as Float64Array)[head * D + i] as number) *
              ((k[j] as Float64Array)[kvHead * D + i] as number);
          }
          scores[j] = s / Math.sqrt(D);
          max = Math.max(max, scores[j] as number);
        }
        let sum = 0;
        for (let j = 0; j <= t; j++) {
          scores[j] = Math.exp((scores[j] as number) - max);
          sum += scores[j] as number;
        }
        for (let j = 0; j <= t; j++) {
          const pj = (scores[j] as number) / sum;
          for (let i = 0; i < D; i++) {
            out[head * D + i] =
              (out[head * D + i] as number) + pj * ((v[j] as Float64Array)[kvHead * D + i] as number);
          }
        }
      }
      addInto(x[t] as Float64Array, linear(out, w, `${p}.o`, c.bias));
    }
    for (let t = 0; t < T; t++) {
      const hn = norm(c, x[t] as Float64Array, w, `${p}.mlp_norm`);
      let inner: Float64Array;
      if (c.activation === 'swiglu') {
        const gate = linear(hn, w, `${p}.gate`, false);
        const up = linear(hn, w, `${p}.up`, false);
        inner = gate.map((g, i) => (g / (1 + Math.exp(-g))) * (up[i] as number));
      } else {
        inner = linear(hn, w, `${p}.up`, c.bias).map((u) => activate(c.activation, u));
      }
      addInto(x[t] as Float64Array, linear(inner, w, `${p}.down`, c.activation !== 'swiglu' && c.bias));
    }
  }
  const head = c.tiedEmbeddings ? get('tok_embeddings') : get('lm_head.weight');
  return x.map((row) => matVec(head, c.vocabSize, d, norm(c, row, w, 'final_norm')));
}

/** Mean negative log-likelihood of each next token in the sequence (T − 1 predictions). */
export function referenceNll(
  c: ModelConfig,
  w: TensorMap,
  ids: readonly number[],
): { sum: number; count: number } {
  const logits = referenceLogits(c, w, ids);
  let sum = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits[t] as Float64Array;
    const max = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    sum += Math.log(z) + max - (row[ids[t + 1] as number] as number);
  }
  return { sum, count: ids.length - 1 };
}

function norm(c: ModelConfig, x: Float64Array, w: TensorMap, name: string): Float64Array {
  const g = w.get(`${name}.weight`) as Float32Array;
  const n = x.length;
  if (c.norm === 'rmsnorm') {
    let ss = 0;
    for (const v of x) ss += v * v;
    const r = 1 / Math.sqrt(ss / n + c.normEps);
    return x.map((v, i) => v * r * (g[i] as number));
  }
  const b = w.get(`${name}.bias`) as Float32Array;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  variance /= n;
  const r = 1 / Math.sqrt(variance + c.normEps);
  return x.map((v, i) => (v - mean) * r * (g[i] as number) + (b[i] as number));
}

function linear(x: Float64Array, w: TensorMap, name: string, bias: boolean): Float64Array {
  const weight = w.get(`${name}.weight`) as Float32Array;
  const rows = weight.length / x.length;
  const y = matVec(weight, rows, x.length, x);
  if (bias) {
    const b = w.get(`${name}.bias`) as Float32Array;
    for (let i = 0; i < rows; i++) y[i] = (y[i] as number) + (b[i] as number);
  }
  return y;
}

function matVec(m: Float32Array, rows: number, cols: number, x: Float64Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < cols; i++) s += (m[r * cols + i] as number) * (x[i] as number);
    y[r] = s;
  }
  return y;
}

function addInto(x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) + (y[i] as number);
}

function rope(c: ModelConfig, x: Float64Array, heads: number, position: number): void {
  const D = c.headDim;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < D / 2; i++) {
      const angle = position * c.ropeTheta ** (-(2 * i) / D);
      const [a, b] =
        c.ropeStyle === 'interleaved' ? [h * D + 2 * i, h * D + 2 * i + 1] : [h * D + i, h * D + i + D / 2];
      const x0 = x[a] as number;
      const x1 = x[b] as number;
      x[a] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
      x[b] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
    }
  }
}

function activate(kind: ModelConfig['activation'], u: number): number {
  switch (kind) {
    case 'relu':
      return Math.max(u, 0);
    case 'gelu_new':
      return 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
    case 'gelu':
      return 0.5 * u * (1 + erf(u / Math.SQRT2));
    default:
      throw new Error(`reference: ${kind} is not an elementwise activation`);
  }
}

/**
 * Scores windows for perplexity.ts with this forward, the weights read once (the CLI's
 * `eval --reference`, a cross-check independent of the GPU).
 */
export async function referenceScorer(weights: WeightSource): Promise<WindowScorer> {
  const tensors = new Map<string, Float32Array>();
  for (const t of canonicalTensors(weights.config)) tensors.set(t.name, await weights.read(t.name));
  return async (windows) =>
    windows.map((window) => {
      const nll = referenceNll(weights.config, tensors, window);
      return { nllSum: nll.sum, count: nll.count };
    });
}
