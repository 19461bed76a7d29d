// Tiny random models of each family, written in their Hugging Face layout, for tests and
// benchmarks: a test builds the checkpoint bytes a user would drop in, then loads them.

import { Random } from '../kernels/random';
import { bytesSource } from './byteSource';
import type { ModelConfig } from './config';
import { type Dtype, readSafetensorsHeader, readTensorF32, writeSafetensors } from './safetensors';
import { canonicalTensors } from './weights';

export function tinyConfig(family: ModelConfig['family'], overrides: Partial<ModelConfig> = {}): ModelConfig {
  const base: ModelConfig = {
    family,
    vocabSize: 37,
    hidden: 12,
    layers: 2,
    heads: 3,
    kvHeads: 3,
    headDim: 4,
    ffnHidden: 20,
    maxPositions: 16,
    norm: family === 'llama' ? 'rmsnorm' : 'layernorm',
    normEps: 1e-5,
    activation: family === 'llama' ? 'swiglu' : family === 'opt' ? 'relu' : 'gelu_new',
    bias: family !== 'llama',
    positions: family === 'llama' ? 'rope' : 'learned',
    positionOffset: family === 'opt' ? 2 : 0,
    ropeTheta: family === 'llama' ? 10000 : 0,
    ropeStyle: 'half',
    tiedEmbeddings: family !== 'llama',
    bosId: 1,
    eosId: 2,
  };
  return { ...base, ...overrides };
}

/** Random canonical tensors; norm gains near 1 so activations stay in a realistic range. */
export function randomTensors(config: ModelConfig, seed: number): Map<string, Float32Array> {
  const random = new Random(seed);
  const tensors = new Map<string, Float32Array>();
  for (const t of canonicalTensors(config)) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const isNormGain = /norm\.weight$/.test(t.name);
    const fanIn = t.shape.length === 2 ? (t.shape[1] as number) : 1;
    const values = random.uniform(size, -1, 1).map((v) => (isNormGain ? 1 + 0.2 * v : v / Math.sqrt(fanIn)));
    tensors.set(t.name, values);
  }
  return tensors;
}

/** The text llama2.c's run.c prints for stories260K at temperature 0 (see the model's SOURCE.md). */
export const STORIES260K_GREEDY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

/**
 * A safetensors file with every tensor converted to `dtype` (rounded to nearest even), in the same
 * order with the same metadata: what saving a checkpoint with .half() or .bfloat16() gives.
 */
export async function convertSafetensors(bytes: Uint8Array, dtype: Dtype): Promise<Uint8Array> {
  const file = await readSafetensorsHeader(bytesSource('model.safetensors', bytes));
  const tensors = [...file.tensors.values()].sort((a, b) => a.offset - b.offset);
  return writeSafetensors(
    await Promise.all(
      tensors.map(async (t) => ({ name: t.name, shape: t.shape, data: await readTensorF32(t), dtype })),
    ),
    file.metadata,
  );
}
