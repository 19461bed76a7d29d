// Writes a model as a Hugging Face folder: model.safetensors in its family's naming and layout,
// and config.json. Pruned models are exported this way, and llama2.c checkpoints converted.

import { configToJson } from './config';
import { writeSafetensors } from './safetensors';
import { hfTensorsForExport, type WeightSource } from './weights';

export interface ExportedFile {
  name: string;
  data: Uint8Array;
}

export async function exportHfModel(
  source: WeightSource,
  metadata: Record<string, string> = {},
): Promise<ExportedFile[]> {
  const tensors = await hfTensorsForExport(source);
  const config = `${JSON.stringify(configToJson(source.config), null, 2)}\n`;
  return [
    { name: 'model.safetensors', data: writeSafetensors(tensors, { format: 'pt', ...metadata }) },
    { name: 'config.json', data: new TextEncoder().encode(config) },
  ];
}
