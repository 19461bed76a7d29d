// Import of llama2.c's "legacy" checkpoint format (the format of stories260K): seven little-endian
// int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab
// size means the classifier is stored separately), then f32 arrays in a fixed order. llama2.c
// rotates interleaved pairs (2i, 2i+1); toHalfRope() permutes q and k so that the model runs with
// Hugging Face's rotate_half convention instead, which is what an exported checkpoint must use.

import { ModelFormatError } from './byteSource';
import type { ModelConfig } from './config';
import { checkFinite } from './weights';

export interface Llama2cModel {
  config: ModelConfig;
  tensors: Map<string, Float32Array>;
}

export function parseLlama2c(file: string, data: ArrayBuffer): Llama2cModel {
  if (data.byteLength < 28)
    throw new ModelFormatError(file, `${data.byteLength} bytes is too short for a llama2.c header`);
  const header = new Int32Array(data.slice(0, 28));
  const [dim, hiddenDim, layers, heads, kvHeads, rawVocab, seqLen] = Array.from(header) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const vocab = Math.abs(rawVocab);
  for (const [name, value] of Object.entries({ dim, hiddenDim, layers, heads, kvHeads, vocab, seqLen })) {
    if (!(value > 0 && value < 1 << 20))
      throw new ModelFormatError(file, `header field ${name} = ${value} is not plausible`);
  }
  if (dim % heads !== 0 || heads % kvHeads !== 0 || (dim / heads) % 2 !== 0) {
    throw new ModelFormatError(
      file,
      `dim ${dim}, ${heads} heads and ${kvHeads} kv heads do not fit together`,
    );
  }
  const headDim = dim / heads;
  const kvDim = kvHeads * headDim;
  const config: ModelConfig = {
    family: 'llama',
    vocabSize: vocab,
    hidden: dim,
    layers,
    heads,
    kvHeads,
    headDim,
    ffnHidden: hiddenDim,
    maxPositions: seqLen,
    norm: 'rmsnorm',
    normEps: 1e-5,
    activation: 'swiglu',
    bias: false,
    positions: 'rope',
    positionOffset: 0,
    ropeTheta: 10000,
    ropeStyle: 'interleaved',
    tiedEmbeddings: rawVocab > 0,
    bosId: 1,
    eosId: 2,
  };

  // The arrays, in file order; per-layer arrays hold all layers back to back.
  const layout: [string, number, number][] = [
    ['tok_embeddings', 1, vocab * dim],
    ['attn_norm', layers, dim],
    ['q', layers, dim * dim],
    ['k', layers, kvDim * dim],
    ['v', layers, kvDim * dim],
    ['o', layers, dim * dim],
    ['mlp_norm', layers, dim],
    ['gate', layers, hiddenDim * dim],
    ['down', layers, dim * hiddenDim],
    ['up', layers, hiddenDim * dim],
    ['final_norm', 1, dim],
    // RoPE tables the legacy format still carries; the engine computes them.
    ['freq_cis', 1, seqLen * headDim],
  ];
  const floats = (data.byteLength - 28) / 4;
  const needed =
    layout.reduce((sum, [, count, size]) => sum + count * size, 0) + (rawVocab < 0 ? vocab * dim : 0);
  if (floats < needed) {
    throw new ModelFormatError(
      file,
      `holds ${floats} floats after the header, the header implies ${needed}: truncated`,
    );
  }
  const all = new Float32Array(data, 28, needed);
  const tensors = new Map<string, Float32Array>();
  let at = 0;
  for (const [name, count, size] of layout) {
    for (let i = 0; i < count; i++) {
      const values = all.slice(at, at + size);
      at += size;
      if (name === 'freq_cis') continue;
      const canonical =
        name === 'tok_embeddings'
          ? name
          : name === 'final_norm'
            ? 'final_norm.weight'
            : `layers.${i}.${name}.weight`;
      checkFinite(file, canonical, values);
      tensors.set(canonical, values);
    }
  }
  if (rawVocab < 0) tensors.set('lm_head.weight', all.slice(at, at + vocab * dim));
  return { config, tensors };
}

/**
 * Reorders each head's rows of q and k from interleaved pairs (2i, 2i+1) to halves (i, i + D/2),
 * the permutation llama2.c's own Hugging Face export applies. Attention scores are unchanged because
 * q and k are permuted alike.
 */
export function toHalfRope(model: Llama2cModel): Llama2cModel {
  const { config } = model;
  if (config.ropeStyle === 'half') return model;
  const tensors = new Map(model.tensors);
  const d = config.headDim;
  for (let l = 0; l < config.layers; l++) {
    for (const [op, heads] of [
      ['q', config.heads],
      ['k', config.kvHeads],
    ] as const) {
      const name = `layers.${l}.${op}.weight`;
      const w = model.tensors.get(name) as Float32Array;
      const cols = config.hidden;
      const out = new Float32Array(w.length);
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < d / 2; i++) {
          for (let half = 0; half < 2; half++) {
            const from = (h * d + 2 * i + half) * cols;
            const to = (h * d + half * (d / 2) + i) * cols;
            out.set(w.subarray(from, from + cols), to);
          }
        }
      }
      tensors.set(name, out);
    }
  }
  return { config: { ...config, ropeStyle: 'half' }, tensors };
}
