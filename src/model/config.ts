// Architectures the engine runs, read from a Hugging Face config.json into one description. The
// three families differ in norms (LayerNorm / RMSNorm), positions (learned / rotary), MLPs
// (GELU, ReLU / SwiGLU), biases and tied heads; everything downstream reads this description,
// never a family name, except the tensor-name map in weights.ts.

import { ModelFormatError } from './byteSource';

export type Family = 'gpt2' | 'opt' | 'llama';
export type Activation = 'gelu_new' | 'gelu' | 'relu' | 'swiglu';

export interface ModelConfig {
  family: Family;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffnHidden: number;
  maxPositions: number;
  norm: 'layernorm' | 'rmsnorm';
  normEps: number;
  activation: Activation;
  /** Linear layers and norms carry biases (GPT-2, OPT). */
  bias: boolean;
  positions: 'learned' | 'rope';
  /** OPT's learned positions start at row 2 of the table. */
  positionOffset: number;
  ropeTheta: number;
  /** 'half': Hugging Face's rotate_half; 'interleaved': llama2.c/Meta pairs (2i, 2i+1). */
  ropeStyle: 'half' | 'interleaved';
  tiedEmbeddings: boolean;
  bosId: number | null;
  eosId: number | null;
}

const SUPPORTED = 'GPT-2 (gpt2), OPT (opt) and Llama-style (llama, mistral) checkpoints';

export function parseConfig(file: string, text: string): ModelConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(file, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null) throw new ModelFormatError(file, 'not a JSON object');
  const type = raw.model_type;
  const num = (key: string, fallback?: number): number => {
    const value = raw[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new ModelFormatError(
        file,
        `${key} = ${JSON.stringify(raw[key])} is missing or not a positive number`,
      );
    }
    return value;
  };
  const id = (key: string): number | null => (typeof raw[key] === 'number' ? (raw[key] as number) : null);
  const specialIds = { bosId: id('bos_token_id'), eosId: id('eos_token_id') };
  // GPT-2 and OPT: a learned position table (no RoPE), the embedding tied to the head unless the
  // config unties it.
  const learnedPositions = {
    positions: 'learned',
    ropeTheta: 0,
    ropeStyle: 'half',
    tiedEmbeddings: raw.tie_word_embeddings !== false,
  } as const;
  let config: ModelConfig;
  switch (type) {
    case 'gpt2': {
      const hidden = num('n_embd');
      const heads = num('n_head');
      const act = raw.activation_function ?? 'gelu_new';
      if (act !== 'gelu_new' && act !== 'gelu')
        throw new ModelFormatError(file, `activation_function ${act} is not supported`);
      config = {
        family: 'gpt2',
        vocabSize: num('vocab_size'),
        hidden,
        layers: num('n_layer'),
        heads,
        kvHeads: heads,
        headDim: hidden / heads,
        // n_inner is null in GPT-2's own configs: four times the width.
        ffnHidden: raw.n_inner === undefined || raw.n_inner === null ? 4 * hidden : num('n_inner'),
        maxPositions: num('n_positions'),
        norm: 'layernorm',
        normEps: num('layer_norm_epsilon', 1e-5),
        activation: act,
        bias: true,
        ...learnedPositions,
        positionOffset: 0,
        ...specialIds,
      };
      break;
    }
    case 'opt': {
      const hidden = num('hidden_size');
      const heads = num('num_attention_heads');
      if (raw.do_layer_norm_before === false || (raw.word_embed_proj_dim ?? hidden) !== hidden) {
        throw new ModelFormatError(
          file,
          'OPT with post-LayerNorm or a projected embedding (OPT-350M) is not supported; other OPT sizes are',
        );
      }
      const act = raw.activation_function ?? 'relu';
      if (act !== 'relu') throw new ModelFormatError(file, `OPT activation_function ${act} is not supported`);
      config = {
        family: 'opt',
        vocabSize: num('vocab_size'),
        hidden,
        layers: num('num_hidden_layers'),
        heads,
        kvHeads: heads,
        headDim: hidden / heads,
        ffnHidden: num('ffn_dim'),
        maxPositions: num('max_position_embeddings'),
        norm: 'layernorm',
        normEps: 1e-5,
        activation: 'relu',
        bias: raw.enable_bias !== false,
        ...learnedPositions,
        // OPT's position table starts two rows in (HF's OPTLearnedPositionalEmbedding).
        positionOffset: 2,
        ...specialIds,
      };
      break;
    }
    case 'llama':
    case 'mistral': {
      const hidden = num('hidden_size');
      const heads = num('num_attention_heads');
      const act = raw.hidden_act ?? 'silu';
      if (act !== 'silu') throw new ModelFormatError(file, `hidden_act ${act} is not supported (silu is)`);
      if (raw.rope_scaling !== undefined && raw.rope_scaling !== null) {
        throw new ModelFormatError(file, 'rope_scaling is not supported yet; use a checkpoint without it');
      }
      config = {
        family: 'llama',
        vocabSize: num('vocab_size'),
        hidden,
        layers: num('num_hidden_layers'),
        heads,
        kvHeads: num('num_key_value_heads', heads),
        headDim: raw.head_dim === undefined || raw.head_dim === null ? hidden / heads : num('head_dim'),
        ffnHidden: num('intermediate_size'),
        maxPositions: num('max_position_embeddings'),
        norm: 'rmsnorm',
        normEps: num('rms_norm_eps', 1e-6),
        activation: 'swiglu',
        bias: raw.attention_bias === true,
        positions: 'rope',
        positionOffset: 0,
        ropeTheta: num('rope_theta', 10000),
        ropeStyle: raw.rope_style === 'interleaved' ? 'interleaved' : 'half',
        tiedEmbeddings: raw.tie_word_embeddings === true,
        ...specialIds,
      };
      break;
    }
    default:
      throw new ModelFormatError(
        file,
        `model_type ${JSON.stringify(type)} is not supported; Compression Studio runs ${SUPPORTED}`,
      );
  }
  checkConsistency(file, config);
  return config;
}

function checkConsistency(file: string, c: ModelConfig): void {
  const integers: (keyof ModelConfig)[] = [
    'vocabSize',
    'hidden',
    'layers',
    'heads',
    'kvHeads',
    'headDim',
    'ffnHidden',
    'maxPositions',
  ];
  for (const key of integers) {
    if (!Number.isInteger(c[key])) throw new ModelFormatError(file, `${key} = ${c[key]} is not an integer`);
  }
  if (c.heads % c.kvHeads !== 0) {
    throw new ModelFormatError(
      file,
      `${c.heads} attention heads are not a multiple of ${c.kvHeads} key/value heads`,
    );
  }
  if (c.positions === 'rope' && c.headDim % 2 !== 0) {
    throw new ModelFormatError(file, `rotary embeddings need an even head size, got ${c.headDim}`);
  }
}

/** config.json for a model, in the Hugging Face form its family uses (for exports). */
export function configToJson(c: ModelConfig): Record<string, unknown> {
  const ids = { bos_token_id: c.bosId, eos_token_id: c.eosId, vocab_size: c.vocabSize };
  switch (c.family) {
    case 'gpt2':
      return {
        model_type: 'gpt2',
        architectures: ['GPT2LMHeadModel'],
        n_embd: c.hidden,
        n_head: c.heads,
        n_layer: c.layers,
        n_inner: c.ffnHidden,
        n_positions: c.maxPositions,
        layer_norm_epsilon: c.normEps,
        activation_function: c.activation,
        tie_word_embeddings: c.tiedEmbeddings,
        ...ids,
      };
    case 'opt':
      return {
        model_type: 'opt',
        architectures: ['OPTForCausalLM'],
        hidden_size: c.hidden,
        num_attention_heads: c.heads,
        num_hidden_layers: c.layers,
        ffn_dim: c.ffnHidden,
        max_position_embeddings: c.maxPositions,
        do_layer_norm_before: true,
        word_embed_proj_dim: c.hidden,
        activation_function: 'relu',
        enable_bias: c.bias,
        tie_word_embeddings: c.tiedEmbeddings,
        ...ids,
      };
    case 'llama':
      return {
        model_type: 'llama',
        architectures: ['LlamaForCausalLM'],
        hidden_size: c.hidden,
        num_attention_heads: c.heads,
        num_key_value_heads: c.kvHeads,
        head_dim: c.headDim,
        num_hidden_layers: c.layers,
        intermediate_size: c.ffnHidden,
        max_position_embeddings: c.maxPositions,
        rms_norm_eps: c.normEps,
        rope_theta: c.ropeTheta,
        hidden_act: 'silu',
        attention_bias: c.bias,
        tie_word_embeddings: c.tiedEmbeddings,
        ...(c.ropeStyle === 'interleaved' ? { rope_style: 'interleaved' } : {}),
        ...ids,
      };
  }
}
