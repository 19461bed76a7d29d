// Models to train from scratch: a few sizes of a GPT-2-style and a Llama-style decoder over a
// given tokenizer's vocabulary, and their initialization. The sizes go from one that trains in a
// Playwright test on a CPU adapter to the paper-scale setup (docs/algorithms/adapprox.md §4: 4 layers, d = 256, 4 heads, context
// 128, MLP 4×, tied embeddings), which wants a real GPU.

import { Random } from '../kernels/random';
import type { ModelConfig } from '../model/config';
import { canonicalTensors } from '../model/weights';

export type PresetName = 'nano' | 'tiny' | 'small' | 'paper';
export type PresetFamily = 'gpt2' | 'llama';

export const PRESETS: Record<
  PresetName,
  { label: string; layers: number; hidden: number; heads: number; context: number }
> = {
  nano: { label: 'nano (2 × 32)', layers: 2, hidden: 32, heads: 2, context: 64 },
  tiny: { label: 'tiny (4 × 64)', layers: 4, hidden: 64, heads: 4, context: 128 },
  small: { label: 'small (4 × 128)', layers: 4, hidden: 128, heads: 4, context: 128 },
  paper: { label: 'paper (4 × 256)', layers: 4, hidden: 256, heads: 4, context: 128 },
};

/**
 * The config of a preset over a vocabulary. GPT-2: LayerNorm, learned positions, GELU MLP of 4d,
 * biases. Llama: RMSNorm, RoPE, SwiGLU whose hidden width 8d/3 (rounded up to a multiple of 8)
 * keeps the MLP's parameter count near GPT-2's. Both tie the embeddings, as the paper-scale setup does.
 */
export function presetConfig(
  name: PresetName,
  family: PresetFamily,
  vocab: { size: number; bosId: number | null; eosId: number | null },
): ModelConfig {
  const p = PRESETS[name];
  if (!p) throw new RangeError(`unknown model size ${name}; choose ${Object.keys(PRESETS).join(', ')}`);
  const llama = family === 'llama';
  return {
    family,
    vocabSize: vocab.size,
    hidden: p.hidden,
    layers: p.layers,
    heads: p.heads,
    kvHeads: p.heads,
    headDim: p.hidden / p.heads,
    ffnHidden: llama ? Math.ceil((8 * p.hidden) / 3 / 8) * 8 : 4 * p.hidden,
    maxPositions: p.context,
    norm: llama ? 'rmsnorm' : 'layernorm',
    normEps: 1e-5,
    activation: llama ? 'swiglu' : 'gelu_new',
    bias: !llama,
    positions: llama ? 'rope' : 'learned',
    positionOffset: 0,
    ropeTheta: llama ? 10000 : 0,
    ropeStyle: 'half',
    tiedEmbeddings: true,
    bosId: vocab.bosId,
    eosId: vocab.eosId,
  };
}

/**
 * GPT-2's initialization: every matrix and embedding N(0, 0.02²), the projections that write into
 * the residual stream (o and down) scaled by 1/√(2·layers) so the stream's variance does not grow
 * with depth; biases 0, norm gains 1. Gaussians by Box–Muller from the seeded generator.
 */
export function initialWeights(c: ModelConfig, seed: number): Map<string, Float32Array> {
  const random = new Random(seed);
  const gaussian = () => {
    const u = 1 - random.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
  };
  const residualScale = 1 / Math.sqrt(2 * c.layers);
  const out = new Map<string, Float32Array>();
  for (const t of canonicalTensors(c)) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (/norm\.weight$/.test(t.name)) values.fill(1);
    else if (t.shape.length === 2) {
      const std = /\.(o|down)\.weight$/.test(t.name) ? 0.02 * residualScale : 0.02;
      for (let i = 0; i < size; i++) values[i] = std * gaussian();
    }
    out.set(t.name, values);
  }
  return out;
}
