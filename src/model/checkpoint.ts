// Opens a model from the files a person hands over (a dropped folder, picked files, or a URL's
// folder): a Hugging Face checkpoint (config.json and one or more safetensors files, sharded ones
// listed in model.safetensors.index.json) or a llama2.c .bin. Only headers are read here; weights
// are read later, block by block.

import { type ByteSource, ModelFormatError } from './byteSource';
import { type ModelConfig, parseConfig } from './config';
import { parseLlama2c, toHalfRope } from './llama2c';
import { readSafetensorsHeader, type TensorInfo } from './safetensors';
import { expandCompressed } from './sparseSafetensors';
import { hfWeightSource, memoryWeightSource, type WeightSource } from './weights';

export interface OpenedModel {
  weights: WeightSource;
  config: ModelConfig;
  /** Bytes of weight data in the files. */
  weightBytes: number;
  /** The files not used for weights (tokenizer files, for the tokenizer loader). */
  otherFiles: ByteSource[];
  format: 'safetensors' | 'llama2c';
}

const baseName = (name: string) => name.split(/[\\/]/).pop() ?? name;

export async function openModel(files: readonly ByteSource[]): Promise<OpenedModel> {
  const byName = new Map(files.map((f) => [baseName(f.name), f]));
  const config = byName.get('config.json');
  const safetensors = files.filter((f) => f.name.endsWith('.safetensors'));
  if (config && safetensors.length) return openHf(config, safetensors, byName, files);
  const llama2c = files.find((f) => f.name.endsWith('.bin') && !/^tok.*\.bin$/.test(baseName(f.name)));
  if (llama2c) return openLlama2c(llama2c, files);
  const names = files.map((f) => baseName(f.name)).join(', ') || 'no files';
  throw new ModelFormatError(
    names,
    'no model found: give a Hugging Face folder (config.json with model.safetensors, or shards with ' +
      'model.safetensors.index.json) or a llama2.c .bin checkpoint',
  );
}

async function openHf(
  configFile: ByteSource,
  shards: ByteSource[],
  byName: Map<string, ByteSource>,
  files: readonly ByteSource[],
): Promise<OpenedModel> {
  const config = parseConfig(configFile.name, await readText(configFile));
  const index = byName.get('model.safetensors.index.json');
  let used = shards;
  if (index) {
    used = indexShards(index.name, await readText(index)).map((shard) => {
      const file = byName.get(shard);
      if (!file) throw new ModelFormatError(index.name, `lists shard ${shard}, which was not given`);
      return file;
    });
  }
  const tensors = new Map<string, TensorInfo>();
  let weightBytes = 0;
  for (const shard of used) {
    const header = await readSafetensorsHeader(shard);
    // Compressed sparse matrices (src/model/sparseSafetensors.ts) read as dense F32 tensors.
    for (const [name, info] of expandCompressed(header)) {
      const other = tensors.get(name);
      if (other) throw new ModelFormatError(shard.name, `is also in ${other.source.name}`, name);
      tensors.set(name, info);
      weightBytes += info.byteLength;
    }
  }
  const description = used.map((f) => baseName(f.name)).join(', ');
  return {
    weights: hfWeightSource(config, tensors, description),
    config,
    weightBytes,
    otherFiles: files.filter((f) => f !== configFile && !used.includes(f) && f !== index),
    format: 'safetensors',
  };
}

/**
 * The shard files a model.safetensors.index.json lists, each once. The studio also fetches them
 * from a URL folder by these names, so a name must be a plain .safetensors file name: no folder
 * part that could point elsewhere.
 */
export function indexShards(file: string, text: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(file, `not valid JSON (${(error as Error).message})`);
  }
  const map = (json as { weight_map?: unknown })?.weight_map;
  if (
    typeof map !== 'object' ||
    map === null ||
    Array.isArray(map) ||
    !Object.values(map).every((v) => typeof v === 'string')
  ) {
    throw new ModelFormatError(file, 'has no weight_map of tensor name → shard file');
  }
  const shards = [...new Set(Object.values(map as Record<string, string>))];
  for (const shard of shards) {
    if (!/^[^/\\]+\.safetensors$/.test(shard)) {
      throw new ModelFormatError(
        file,
        `lists shard ${JSON.stringify(shard)}; shards are .safetensors files in the same folder`,
      );
    }
  }
  return shards;
}

async function openLlama2c(file: ByteSource, files: readonly ByteSource[]): Promise<OpenedModel> {
  // llama2.c checkpoints are small and not block-addressable: read whole.
  const model = toHalfRope(parseLlama2c(file.name, await file.read(0, file.size)));
  return {
    weights: memoryWeightSource(model.config, model.tensors, baseName(file.name)),
    config: model.config,
    weightBytes: file.size - 28,
    otherFiles: files.filter((f) => f !== file),
    format: 'llama2c',
  };
}

async function readText(source: ByteSource): Promise<string> {
  return new TextDecoder().decode(await source.read(0, source.size));
}
