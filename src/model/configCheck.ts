// config.json says how big a model is; the safetensors headers say what is really there. Every
// config field that sizes something (the list of tensors the engine expects, the buffers it
// allocates) is compared here with the tensors present, before anything is built from it: a
// config claiming a billion layers over a two-layer checkpoint is refused with the field, the
// value it claims and what the tensors say, instead of listing a billion layers' tensors and
// running out of memory.

import { ModelFormatError } from './byteSource';
import type { ModelConfig } from './config';
import type { TensorInfo } from './safetensors';

/**
 * Rotary models have no position table to size their context by, so it is capped: no checkpoint
 * the engine runs comes near 16M tokens, and evaluation windows default to the context length.
 */
export const MAX_ROPE_CONTEXT = 1 << 24;

type SizeField =
  | 'vocabSize'
  | 'hidden'
  | 'layers'
  | 'heads'
  | 'kvHeads'
  | 'headDim'
  | 'ffnHidden'
  | 'maxPositions';

/** Each sizing field's key in the family's config.json, so that an error names what the user sees. */
const CONFIG_KEYS: Record<ModelConfig['family'], Record<SizeField, string>> = {
  gpt2: {
    vocabSize: 'vocab_size',
    hidden: 'n_embd',
    layers: 'n_layer',
    heads: 'n_head',
    kvHeads: 'n_head',
    headDim: 'n_embd / n_head',
    ffnHidden: 'n_inner',
    maxPositions: 'n_positions',
  },
  opt: {
    vocabSize: 'vocab_size',
    hidden: 'hidden_size',
    layers: 'num_hidden_layers',
    heads: 'num_attention_heads',
    kvHeads: 'num_attention_heads',
    headDim: 'hidden_size / num_attention_heads',
    ffnHidden: 'ffn_dim',
    maxPositions: 'max_position_embeddings',
  },
  llama: {
    vocabSize: 'vocab_size',
    hidden: 'hidden_size',
    layers: 'num_hidden_layers',
    heads: 'num_attention_heads',
    kvHeads: 'num_key_value_heads',
    headDim: 'head_dim',
    ffnHidden: 'intermediate_size',
    maxPositions: 'max_position_embeddings',
  },
};

/**
 * Checks the config's sizes against the tensors of a Hugging Face checkpoint whose names start with
 * `prefix`; `hfName` gives the checkpoint's name of an engine tensor (weights.ts hfSource). Only a
 * handful of headers are looked at, and nothing is allocated in proportion to a claimed size, so a
 * hostile config costs nothing.
 */
export function checkConfigAgainstTensors(
  config: ModelConfig,
  tensors: ReadonlyMap<string, TensorInfo>,
  prefix: string,
  hfName: (canonical: string) => string,
  description: string,
): void {
  const keys = CONFIG_KEYS[config.family];
  const mismatch = (field: SizeField, claimed: number, found: string): never => {
    throw new ModelFormatError(
      'config.json',
      `${keys[field]} = ${claimed} does not match the checkpoint (${description}): ${found}`,
    );
  };
  /** The shape of the tensor holding a canonical one, or a clear error when it is absent or not a matrix/vector. */
  const shapeOf = (canonical: string, rank: number): number[] => {
    const name = hfName(canonical);
    const info = tensors.get(name);
    if (!info) throw new ModelFormatError(description, 'missing from the checkpoint', name);
    if (info.shape.length !== rank) {
      throw new ModelFormatError(
        info.source.name,
        `shape [${info.shape}] has ${info.shape.length} dimensions where ${rank} are expected`,
        name,
      );
    }
    return info.shape;
  };

  // The token embedding is [vocab, hidden] in every family.
  const [vocab, hidden] = shapeOf('tok_embeddings', 2) as [number, number];
  if (config.vocabSize !== vocab)
    mismatch('vocabSize', config.vocabSize, `the token embedding has ${vocab} rows`);
  if (config.hidden !== hidden)
    mismatch('hidden', config.hidden, `the token embedding has ${hidden} columns`);

  const layers = layerCount(config, tensors, prefix, description);
  // parseConfig has made the claim a positive integer, so a checkpoint without layers fails here too.
  if (config.layers !== layers) mismatch('layers', config.layers, `its tensors hold ${layers} layers`);

  // Attention widths, from layer 0 (every layer's shapes are checked later, in hfWeightSource).
  const q = shapeOf('layers.0.q.weight', 2);
  const k = shapeOf('layers.0.k.weight', 2);
  // GPT-2 fuses q, k and v into one [hidden, 3·hidden] matrix; the others store [out, in].
  const qRows = config.family === 'gpt2' ? (q[1] as number) / 3 : (q[0] as number);
  const kRows = config.family === 'gpt2' ? (k[1] as number) / 3 : (k[0] as number);
  if (config.heads * config.headDim !== qRows) {
    mismatch(
      'heads',
      config.heads,
      `${config.heads} heads of ${config.headDim} (${keys.headDim}) make ${config.heads * config.headDim} query rows, the query projection has ${qRows}`,
    );
  }
  if (config.kvHeads * config.headDim !== kRows) {
    mismatch(
      'kvHeads',
      config.kvHeads,
      `${config.kvHeads} key/value heads of ${config.headDim} make ${config.kvHeads * config.headDim} key rows, the key projection has ${kRows}`,
    );
  }

  // The MLP's inner width: the first projection's outputs ([in, out] in GPT-2's Conv1D layout).
  const up = shapeOf('layers.0.up.weight', 2);
  const ffn = config.family === 'gpt2' ? (up[1] as number) : (up[0] as number);
  if (config.ffnHidden !== ffn)
    mismatch('ffnHidden', config.ffnHidden, `the MLP's first projection has ${ffn} outputs`);

  if (config.positions === 'learned') {
    const [rows] = shapeOf('pos_embeddings', 2) as [number];
    if (config.maxPositions + config.positionOffset !== rows) {
      mismatch(
        'maxPositions',
        config.maxPositions,
        `the position table has ${rows} rows${config.positionOffset ? ` (${config.positionOffset} of them reserved)` : ''}`,
      );
    }
  } else if (config.maxPositions > MAX_ROPE_CONTEXT) {
    throw new ModelFormatError(
      'config.json',
      `${keys.maxPositions} = ${config.maxPositions} is more than the ${MAX_ROPE_CONTEXT} tokens of context the engine supports`,
    );
  }
}

/**
 * How many blocks the checkpoint holds: its layer indices must run 0, 1, …, n−1. Counted from the
 * names present, so a name such as "layers.99999999" cannot make the count large on its own.
 */
function layerCount(
  config: ModelConfig,
  tensors: ReadonlyMap<string, TensorInfo>,
  prefix: string,
  description: string,
): number {
  const root = `${prefix}${config.family === 'gpt2' ? 'h' : 'layers'}.`;
  const indices = new Set<number>();
  for (const name of tensors.keys()) {
    if (!name.startsWith(root)) continue;
    const match = /^(\d+)\./.exec(name.slice(root.length));
    if (match) indices.add(Number(match[1]));
  }
  for (let i = 0; i < indices.size; i++) {
    if (!indices.has(i)) {
      let highest = 0;
      for (const index of indices) highest = Math.max(highest, index);
      throw new ModelFormatError(
        description,
        `layer tensors are numbered up to ${highest} but layer ${i} is missing (${root}${i}.*)`,
      );
    }
  }
  return indices.size;
}
