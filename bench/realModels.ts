// The shapes of the models people bring, from their own config.json files (the fields the engine
// reads), parsed by the engine's parser, and seeded random weights in those shapes.

import { Random } from '../src/kernels/random';
import { type ModelConfig, parseConfig } from '../src/model/config';
import { canonicalTensors, memoryWeightSource, type WeightSource } from '../src/model/weights';

const CONFIGS: Record<string, Record<string, unknown>> = {
  // facebook/opt-125m
  'OPT-125M': {
    model_type: 'opt',
    vocab_size: 50272,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    ffn_dim: 3072,
    max_position_embeddings: 2048,
    activation_function: 'relu',
    do_layer_norm_before: true,
    word_embed_proj_dim: 768,
    enable_bias: true,
    bos_token_id: 2,
    eos_token_id: 2,
  },
  // openai-community/gpt2
  'GPT-2 (124M)': {
    model_type: 'gpt2',
    vocab_size: 50257,
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    n_positions: 1024,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    bos_token_id: 50256,
    eos_token_id: 50256,
  },
  // meta-llama/Llama-2-7b-hf
  'LLaMA-2-7B': {
    model_type: 'llama',
    vocab_size: 32000,
    hidden_size: 4096,
    intermediate_size: 11008,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
  },
};

export type RealModel = keyof typeof CONFIGS;

export function realConfig(name: RealModel): ModelConfig {
  return parseConfig(`${name} config.json`, JSON.stringify(CONFIGS[name]));
}

/**
 * Seeded weights in the model's shapes: matrices uniform / √fan-in (activations keep their scale
 * through the blocks), norm gains near 1.
 */
export function randomWeights(config: ModelConfig, description: string, seed = 125): WeightSource {
  const random = new Random(seed);
  const tensors = new Map<string, Float32Array>();
  for (const t of canonicalTensors(config)) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const fanIn = t.shape.length === 2 ? (t.shape[1] as number) : 1;
    const gain = /norm\.weight$/.test(t.name);
    tensors.set(
      t.name,
      random.uniform(size).map((v) => (gain ? 1 + 0.1 * v : v / Math.sqrt(fanIn))),
    );
  }
  return memoryWeightSource(config, tensors, description);
}
