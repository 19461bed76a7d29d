// For the worker's job tests: a model on the GPU as the worker holds one after loading it, without
// a site or files to open it from.

import type { GpuRuntime } from '../gpu/runtime';
import type { LoadedModel } from '../jobs/load';
import { GpuModel } from '../model/gpuModel';
import { canonicalTensors, type WeightSource } from '../model/weights';
import type { Tokenizer } from '../tokenizer';

/** `source` loaded resident, its summary from the config (f32 weights, the papers' 2048 tokens). */
export async function loadedTestModel(
  rt: GpuRuntime,
  source: WeightSource,
  tokenizer: Tokenizer,
  tokens: LoadedModel['tokens'] = new Map(),
): Promise<LoadedModel> {
  const c = source.config;
  const parameters = canonicalTensors(c).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  return {
    model: await GpuModel.load(rt, source),
    tokenizer,
    summary: {
      name: source.description,
      family: c.family,
      format: 'safetensors',
      layers: c.layers,
      hidden: c.hidden,
      heads: c.heads,
      kvHeads: c.kvHeads,
      headDim: c.headDim,
      ffnHidden: c.ffnHidden,
      vocabSize: c.vocabSize,
      context: c.maxPositions,
      paperSeqLen: 2048,
      defaultSeqLen: c.maxPositions,
      parameters,
      weightBytes: 4 * parameters,
      weightFiles: [],
      tokenizerFiles: [],
    },
    budgetBytes: 2 ** 30,
    tokens,
  };
}
