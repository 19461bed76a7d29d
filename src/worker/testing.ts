// For the worker's job tests: a model on the GPU as the worker holds one after loading it, without
// a site or files to open it from; for the evaluation's, with its text's tokens already cached.

import type { GpuRuntime } from '../gpu/runtime';
import { configSummary, type LoadedModel } from '../jobs/load';
import { GpuModel } from '../model/gpuModel';
import type { WeightSource } from '../model/weights';
import type { Tokenizer } from '../tokenizer';

/** `source` loaded resident, its summary from the config (f32 weights, the papers' 2048 tokens). */
export async function loadedTestModel(
  rt: GpuRuntime,
  source: WeightSource,
  tokenizer: Tokenizer,
  tokens: LoadedModel['tokens'] = new Map(),
): Promise<LoadedModel> {
  const shape = configSummary(source.config);
  return {
    model: await GpuModel.load(rt, source),
    tokenizer,
    summary: {
      name: source.description,
      format: 'safetensors',
      ...shape,
      paperSeqLen: 2048,
      defaultSeqLen: source.config.maxPositions,
      weightBytes: 4 * shape.parameters,
      weightFiles: [],
      tokenizerFiles: [],
    },
    budgetBytes: 2 ** 30,
    tokens,
  };
}

/**
 * `source` loaded as after a first evaluation of TinyStories: those tokens are cached, so the
 * evaluation tests never read or tokenize a text (the tokenizer refuses to).
 */
export function pretokenizedTestModel(
  rt: GpuRuntime,
  source: WeightSource,
  tokens: number[],
): Promise<LoadedModel> {
  const tokenizer: Tokenizer = {
    kind: 'test',
    vocabSize: source.config.vocabSize,
    bosId: 1,
    encode: () => {
      throw new Error('the text is tokenized already');
    },
    decode: () => '',
  };
  return loadedTestModel(rt, source, tokenizer, new Map([['tinystories', tokens]]));
}
