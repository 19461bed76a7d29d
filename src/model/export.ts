// Writes a model as a Hugging Face folder: model.safetensors in its family's naming and layout,
// and config.json. Pruned models are exported this way, and llama2.c checkpoints converted.

import { configToJson } from './config';
import { writeSafetensors } from './safetensors';
import { type SparseExportFormat, writeCompressedSafetensors } from './sparseSafetensors';
import { hfTensorsForExport, type WeightSource } from './weights';

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
  const config = `${JSON.stringify(configToJson(source.config), null, 2)}\n`;
  const meta = { format: 'pt', ...metadata };
  return [
    {
      name: 'model.safetensors',
      data: compress ? writeCompressedSafetensors(tensors, compress, meta) : writeSafetensors(tensors, meta),
    },
    { name: 'config.json', data: new TextEncoder().encode(config) },
  ];
}
