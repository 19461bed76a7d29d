import { describe, expect, it } from 'vitest';
import { bytesSource, ModelFormatError } from './byteSource';
import { configToJson, type Family, parseConfig } from './config';
import { readSafetensorsHeader, writeSafetensors } from './safetensors';
import { randomTensors, tinyConfig } from './testModels';
import { hfTensorsForExport, hfWeightSource, memoryWeightSource } from './weights';

const FAMILIES: Family[] = ['gpt2', 'opt', 'llama'];

/** Writes a random model as its family's Hugging Face checkpoint and opens it again. */
async function checkpoint(
  family: Family,
  mutate?: (tensors: { name: string; data: Float32Array; shape: number[] }[]) => void,
) {
  const config = tinyConfig(family);
  const tensors = randomTensors(config, 7);
  const hf = await hfTensorsForExport(memoryWeightSource(config, tensors, 'memory'));
  mutate?.(hf);
  const file = await readSafetensorsHeader(bytesSource('model.safetensors', writeSafetensors(hf)));
  const reparsed = parseConfig('config.json', JSON.stringify(configToJson(config)));
  return { config, reparsed, tensors, hf, file };
}

describe('Hugging Face checkpoints', () => {
  for (const family of FAMILIES) {
    it(`${family}: config and tensors survive an export and a reload`, async () => {
      const { config, reparsed, tensors, file } = await checkpoint(family);
      expect(reparsed).toEqual(config);
      const source = hfWeightSource(reparsed, file.tensors, 'model.safetensors');
      for (const [name, data] of tensors) expect(await source.read(name), name).toEqual(data);
    });
  }

  it('uses the family naming (GPT-2 fused, transposed c_attn; OPT decoder prefix; Llama model.)', async () => {
    expect((await checkpoint('gpt2')).hf.map((t) => t.name)).toContain('h.1.attn.c_attn.weight');
    const gpt2 = (await checkpoint('gpt2')).hf.find((t) => t.name === 'h.0.attn.c_attn.weight');
    expect(gpt2?.shape).toEqual([12, 36]);
    expect((await checkpoint('opt')).hf.map((t) => t.name)).toContain('model.decoder.layers.0.fc1.weight');
    expect((await checkpoint('llama')).hf.map((t) => t.name)).toContain(
      'model.layers.1.mlp.gate_proj.weight',
    );
  });

  it('names a missing tensor', async () => {
    const { reparsed, file } = await checkpoint('llama', (t) =>
      t.splice(
        t.findIndex((x) => x.name.endsWith('1.self_attn.k_proj.weight')),
        1,
      ),
    );
    expect(() => hfWeightSource(reparsed, file.tensors, 'model.safetensors')).toThrow(
      /tensor "model.layers.1.self_attn.k_proj.weight".*missing/,
    );
  });

  it('names a tensor whose shape disagrees with the config', async () => {
    // Layer 1: layer 0's widths are compared with the config first, by configCheck.ts.
    const { reparsed, file } = await checkpoint('opt', (t) => {
      const fc1 = t.find((x) => x.name === 'model.decoder.layers.1.fc1.weight');
      if (fc1) fc1.shape = [fc1.shape[1] as number, fc1.shape[0] as number];
    });
    expect(() => hfWeightSource(reparsed, file.tensors, 'model.safetensors')).toThrow(
      /fc1.weight.*shape \[12,20\] does not match the config, which needs \[20,12\]/,
    );
  });

  it('refuses NaN and Inf weights with the tensor and element', async () => {
    const { reparsed, file } = await checkpoint('gpt2', (t) => {
      const w = t.find((x) => x.name === 'h.0.mlp.c_fc.weight');
      if (w) w.data[5] = Number.NaN;
    });
    const source = hfWeightSource(reparsed, file.tensors, 'model.safetensors');
    const error = await source.read('layers.0.up.weight').catch((e) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect(error.message).toMatch(/h.0.mlp.c_fc.weight.*NaN at element 5/);
  });
});

describe('config.json', () => {
  it('refuses an unsupported architecture by name', () => {
    expect(() => parseConfig('config.json', '{"model_type": "bert"}')).toThrow(
      /model_type "bert" is not supported/,
    );
    expect(() => parseConfig('config.json', '{')).toThrow(/not valid JSON/);
    expect(() =>
      parseConfig(
        'config.json',
        JSON.stringify({ ...configToJson(tinyConfig('opt')), do_layer_norm_before: false }),
      ),
    ).toThrow(/OPT-350M/);
  });

  it('refuses inconsistent head counts', () => {
    const json = { ...configToJson(tinyConfig('llama')), num_key_value_heads: 2 };
    expect(() => parseConfig('config.json', JSON.stringify(json))).toThrow(
      /not a multiple of 2 key\/value heads/,
    );
  });
});
