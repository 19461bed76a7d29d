// Every config field that sizes an allocation, claimed wrong over a real checkpoint: the error
// names the config.json key, the claimed value and what the tensors hold, and comes before the
// engine lists (or allocates) anything the claim would size.

import { describe, expect, it } from 'vitest';
import { bytesSource, ModelFormatError } from './byteSource';
import { openModel } from './checkpoint';
import { configToJson, type Family } from './config';
import { MAX_ROPE_CONTEXT } from './configCheck';
import { exportHfModel } from './export';
import type { TensorToWrite } from './safetensors';
import { randomTensors, tinyConfig } from './testModels';
import { memoryWeightSource } from './weights';

/** A tiny model's Hugging Face folder with config.json's fields overridden. */
async function openWith(family: Family, edit: Record<string, unknown>, headDim?: number) {
  const config = tinyConfig(family);
  const files = await exportHfModel(memoryWeightSource(config, randomTensors(config, 5), 'memory'));
  const json = { ...configToJson(config), ...(headDim ? { head_dim: headDim } : {}), ...edit };
  const sources = files.map((f) =>
    f.name === 'config.json'
      ? bytesSource(f.name, new TextEncoder().encode(JSON.stringify(json)))
      : bytesSource(f.name, f.data),
  );
  return openModel(sources);
}

async function failure(family: Family, edit: Record<string, unknown>): Promise<ModelFormatError> {
  const error = await openWith(family, edit).catch((e) => e);
  expect(error).toBeInstanceOf(ModelFormatError);
  return error;
}

// tinyConfig: vocab 37, hidden 12, 2 layers, 3 heads of 4, MLP 20, 16 positions.
const CASES: [Family, Record<string, unknown>, RegExp][] = [
  ['gpt2', { n_layer: 1e9 }, /n_layer = 1000000000 does not match.*hold 2 layers/],
  ['opt', { num_hidden_layers: 1e9 }, /num_hidden_layers = 1000000000 does not match.*hold 2 layers/],
  ['llama', { num_hidden_layers: 1e9 }, /num_hidden_layers = 1000000000 does not match.*hold 2 layers/],
  ['llama', { num_hidden_layers: 3 }, /num_hidden_layers = 3 does not match.*hold 2 layers/],
  ['gpt2', { vocab_size: 50257 }, /vocab_size = 50257 does not match.*token embedding has 37 rows/],
  ['llama', { vocab_size: 36 }, /vocab_size = 36 does not match.*token embedding has 37 rows/],
  ['gpt2', { n_embd: 3e8 }, /n_embd = 300000000 does not match.*token embedding has 12 columns/],
  [
    'opt',
    { hidden_size: 24, word_embed_proj_dim: 24 },
    /hidden_size = 24 does not match.*token embedding has 12 columns/,
  ],
  ['gpt2', { n_inner: 4e9 }, /n_inner = 4000000000 does not match.*first projection has 20 outputs/],
  ['opt', { ffn_dim: 21 }, /ffn_dim = 21 does not match.*first projection has 20 outputs/],
  [
    'llama',
    { intermediate_size: 1e7 },
    /intermediate_size = 10000000 does not match.*first projection has 20 outputs/,
  ],
  ['llama', { num_attention_heads: 6 }, /num_attention_heads = 6 does not match.*24 query rows.*has 12/],
  ['llama', { num_key_value_heads: 1 }, /num_key_value_heads = 1 does not match.*4 key rows.*has 12/],
  ['gpt2', { n_positions: 1e9 }, /n_positions = 1000000000 does not match.*position table has 16 rows/],
  [
    'opt',
    { max_position_embeddings: 17 },
    /max_position_embeddings = 17 does not match.*18 rows \(2 of them reserved\)/,
  ],
  [
    'llama',
    { max_position_embeddings: 1e9 },
    new RegExp(`max_position_embeddings = 1000000000 is more than the ${MAX_ROPE_CONTEXT}`),
  ],
];

describe('config.json against the tensors present', () => {
  for (const [family, edit, message] of CASES) {
    it(`${family}: ${JSON.stringify(edit)} is refused, naming the field and the tensors`, async () => {
      const error = await failure(family, edit);
      expect(error.message).toMatch(message);
    });
  }

  it('an explicit head_dim must agree with the query projection too', async () => {
    const error = await openWith('llama', {}, 8).catch((e) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect(error.message).toMatch(
      /num_attention_heads = 3 does not match.*3 heads of 8 \(head_dim\) make 24 query rows/,
    );
  });

  it('a gap in the layer numbers is named, however large the highest number', async () => {
    const config = tinyConfig('llama');
    const files = await exportHfModel(memoryWeightSource(config, randomTensors(config, 5), 'memory'));
    const { readSafetensorsHeader, writeSafetensors, readTensorF32 } = await import('./safetensors');
    const model = files.find((f) => f.name === 'model.safetensors')?.data as Uint8Array;
    const header = await readSafetensorsHeader(bytesSource('model.safetensors', model));
    const tensors: TensorToWrite[] = [];
    for (const info of header.tensors.values()) {
      // Layer 1 renumbered as layer 99999999: two layers on paper, a gap in fact.
      const name = info.name.replace('layers.1.', 'layers.99999999.');
      tensors.push({ name, shape: info.shape, data: await readTensorF32(info) });
    }
    const sources = files.map((f) =>
      f.name === 'model.safetensors'
        ? bytesSource(f.name, writeSafetensors(tensors))
        : bytesSource(f.name, f.data),
    );
    const error = await openModel(sources).catch((e) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect(error.message).toMatch(/numbered up to 99999999 but layer 1 is missing/);
  });

  it('the unchanged config of each family still opens', async () => {
    for (const family of ['gpt2', 'opt', 'llama'] as Family[]) {
      const model = await openWith(family, {});
      expect(model.config.layers).toBe(2);
    }
  });
});
