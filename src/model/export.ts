// Writes a model as a Hugging Face folder: model.safetensors in its family's naming and layout,
// and config.json. Pruned models are exported this way, and llama2.c checkpoints converted.

import { configToJson } from './config';
import { safetensorsHeader, storedBytes, writeSafetensors } from './safetensors';
import { type SparseExportFormat, writeCompressedSafetensors } from './sparseSafetensors';
import { hfExportLayout, hfTensorsForExport, readHfExportTensor, type WeightSource } from './weights';

export interface ExportedFile {
  name: string;
  data: Uint8Array;
}

/**
 * With `compress`, every F32 matrix that format holds exactly in fewer bytes is stored compressed
 * (src/model/sparseSafetensors.ts); openModel reads the file back as the same dense weights.
 */
export async function exportHfModel(
  source: WeightSource,
  metadata: Record<string, string> = {},
  compress?: SparseExportFormat,
): Promise<ExportedFile[]> {
  const tensors = await hfTensorsForExport(source);
  const meta = { format: 'pt', ...metadata };
  return [
    {
      name: 'model.safetensors',
      data: compress ? writeCompressedSafetensors(tensors, compress, meta) : writeSafetensors(tensors, meta),
    },
    hfConfigFile(source),
  ];
}

/** The export's config.json. */
export function hfConfigFile(source: WeightSource): ExportedFile {
  const config = `${JSON.stringify(configToJson(source.config), null, 2)}\n`;
  return { name: 'config.json', data: new TextEncoder().encode(config) };
}

/**
 * The bytes of exportHfModel's dense model.safetensors, handed to `write` in order: the header,
 * then each tensor as it is read and encoded. Only one tensor is in memory at a time, so a model
 * larger than the host's memory exports too.
 */
export async function streamHfSafetensors(
  source: WeightSource,
  metadata: Record<string, string>,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  const layout = hfExportLayout(source);
  await write(safetensorsHeader(layout, { format: 'pt', ...metadata }));
  for (const entry of layout) {
    const { name, shape, dtype } = entry;
    await write(storedBytes({ name, shape, dtype, data: await readHfExportTensor(source, entry) }));
  }
}
