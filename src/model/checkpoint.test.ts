import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource, ModelFormatError } from './byteSource';
import { indexShards, openModel } from './checkpoint';
import { exportHfModel } from './export';
import { writeSafetensors } from './safetensors';
import { randomTensors, tinyConfig } from './testModels';
import { canonicalTensors, memoryWeightSource } from './weights';

const shipped = (name: string) =>
  bytesSource(name, readFileSync(new URL(`../../public/models/stories260K/${name}`, import.meta.url)));

describe('opening a model from files', () => {
  it('the shipped safetensors checkpoint is the conversion of the shipped llama2.c file', async () => {
    const fromBin = await openModel([shipped('stories260K.bin'), shipped('tok512.bin')]);
    expect(fromBin.format).toBe('llama2c');
    const files = await exportHfModel(fromBin.weights, {
      source: 'stories260K.bin (llama2.c), q/k permuted for rotate_half',
    });
    const safetensors = files.find((f) => f.name === 'model.safetensors')?.data as Uint8Array;
    expect(
      Buffer.from(safetensors).equals(
        readFileSync(new URL('../../public/models/stories260K/model.safetensors', import.meta.url)),
      ),
    ).toBe(true);
    const fromHf = await openModel([
      shipped('config.json'),
      shipped('model.safetensors'),
      shipped('tok512.bin'),
    ]);
    expect(fromHf.format).toBe('safetensors');
    expect(fromHf.config).toEqual(fromBin.config);
    expect(fromHf.otherFiles.map((f) => f.name)).toEqual(['tok512.bin']);
    for (const t of canonicalTensors(fromHf.config))
      expect(await fromHf.weights.read(t.name)).toEqual(await fromBin.weights.read(t.name));
  });

  it('reads a sharded checkpoint through its index', async () => {
    const config = tinyConfig('llama');
    const files = await exportHfModel(memoryWeightSource(config, randomTensors(config, 3), 'memory'));
    const whole = await openModel(files.map((f) => bytesSource(f.name, f.data)));
    // Split the tensors over two shards and write the index that maps them.
    const { hfTensorsForExport } = await import('./weights');
    const tensors = await hfTensorsForExport(whole.weights);
    const half = Math.ceil(tensors.length / 2);
    const shards = [tensors.slice(0, half), tensors.slice(half)];
    const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap = Object.fromEntries(shards.flatMap((s, i) => s.map((t) => [t.name, names[i]])));
    const sources = [
      bytesSource('config.json', files[1]?.data as Uint8Array),
      bytesSource(
        'model.safetensors.index.json',
        new TextEncoder().encode(JSON.stringify({ weight_map: weightMap })),
      ),
      ...shards.map((s, i) => bytesSource(names[i] as string, writeSafetensors(s))),
    ];
    const sharded = await openModel(sources);
    expect(sharded.weightBytes).toBe(whole.weightBytes);
    for (const t of canonicalTensors(config))
      expect(await sharded.weights.read(t.name)).toEqual(await whole.weights.read(t.name));
    await expect(openModel(sources.slice(0, 3))).rejects.toThrow(
      /lists shard model-00002-of-00002.safetensors, which was not given/,
    );
  });

  it('refuses an index whose weight_map is not a map of plain shard file names', () => {
    const index = (weightMap: unknown) => JSON.stringify({ weight_map: weightMap });
    expect(indexShards('i.json', index({ a: 'm-1.safetensors', b: 'm-1.safetensors' }))).toEqual([
      'm-1.safetensors',
    ]);
    for (const bad of [['m-1.safetensors'], { a: 3 }, null]) {
      expect(() => indexShards('i.json', index(bad))).toThrow(/i\.json: has no weight_map/);
    }
    // The studio fetches shards from a URL folder by these names: no way out of the folder.
    for (const name of ['../other/m.safetensors', 'sub\\m.safetensors', 'm.bin']) {
      expect(() => indexShards('i.json', index({ a: name }))).toThrow(
        /shards are \.safetensors files in the same folder/,
      );
    }
  });

  it('explains what it needs when no model is among the files', async () => {
    const error = await openModel([bytesSource('notes.txt', new Uint8Array(3))]).catch((e) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect(error.message).toMatch(/notes.txt: no model found/);
  });
});
