// Property-based fuzzing of everything that reads a model a person hands over: safetensors headers,
// config.json of each family, the sharded index, and llama2.c .bin checkpoints, through openModel as
// the CLI and the studio's worker call it. Inputs are random bytes and mutations of valid files
// (fields replaced by huge, negative, fractional or wrongly typed values, keys deleted, bytes
// flipped, length fields overwritten, files cut short), so that the fuzzer gets past the first
// check and into the code that sizes things. When a hostile file happens to open, every weight is
// read too: the reads must hold up as well.

import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { type ByteSource, bytesSource, ModelFormatError } from '../model/byteSource';
import { openModel } from '../model/checkpoint';
import { configToJson, type Family, parseConfig } from '../model/config';
import { exportHfModel } from '../model/export';
import { readSafetensorsHeader, readTensorF32, writeSafetensors } from '../model/safetensors';
import { randomTensors, tinyConfig } from '../model/testModels';
import { canonicalTensors, hfTensorsForExport, memoryWeightSource } from '../model/weights';
import {
  expectOnlyTyped,
  fuzzParameters,
  mutatedBytes,
  mutatedJson,
  mutatedJsonText,
  randomBytes,
} from './harness';

const FAMILIES: Family[] = ['gpt2', 'opt', 'llama'];
const encode = (value: unknown) =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

interface Folder {
  config: Record<string, unknown>;
  safetensors: Uint8Array;
}
const folders = new Map<Family, Folder>();
let shards: { index: Record<string, unknown>; names: string[]; files: Uint8Array[] };
let llama2c: Uint8Array;

beforeAll(async () => {
  for (const family of FAMILIES) {
    const config = tinyConfig(family, { layers: 2 });
    const files = await exportHfModel(memoryWeightSource(config, randomTensors(config, 11), 'memory'));
    folders.set(family, {
      config: configToJson(config),
      safetensors: files.find((f) => f.name === 'model.safetensors')?.data as Uint8Array,
    });
  }
  // The llama folder split over two shards with its index.
  const config = tinyConfig('llama');
  const tensors = await hfTensorsForExport(memoryWeightSource(config, randomTensors(config, 12), 'memory'));
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const half = Math.ceil(tensors.length / 2);
  const parts = [tensors.slice(0, half), tensors.slice(half)];
  shards = {
    names,
    files: parts.map((p) => writeSafetensors(p)),
    index: {
      metadata: { total_size: 0 },
      weight_map: Object.fromEntries(parts.flatMap((p, i) => p.map((t) => [t.name, names[i]]))),
    },
  };
  llama2c = tinyLlama2c();
});

/**
 * A llama2.c legacy checkpoint: dim 8, MLP 12, 2 layers, 2 heads (1 kv head), vocab 16, context 4,
 * shared classifier. Small values, so that every float is finite.
 */
function tinyLlama2c(): Uint8Array {
  const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = [8, 12, 2, 2, 1, 16, 4];
  const kvDim = (kvHeads * dim) / heads;
  const floats =
    vocab * dim +
    layers * (dim + dim * dim + 2 * kvDim * dim + dim * dim + dim + 3 * hidden * dim) +
    dim +
    seqLen * (dim / heads);
  const out = new Uint8Array(28 + 4 * floats);
  const view = new DataView(out.buffer);
  [dim, hidden, layers, heads, kvHeads, vocab, seqLen].forEach((v, i) => {
    view.setInt32(4 * i, v, true);
  });
  for (let i = 0; i < floats; i++) view.setFloat32(28 + 4 * i, Math.sin(i) * 0.1, true);
  return out;
}

/** A safetensors file with its JSON header replaced, data section kept. */
function withHeader(file: Uint8Array, header: string): Uint8Array {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const data = file.subarray(8 + length);
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function headerOf(file: Uint8Array): unknown {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length)));
}

const totalSize = (sources: readonly ByteSource[]) => sources.reduce((sum, s) => sum + s.size, 0);

/** Opens the files; when that succeeds, reads every weight, as a job would. */
async function openAndRead(sources: ByteSource[]): Promise<void> {
  const model = await openModel(sources);
  for (const t of canonicalTensors(model.config)) await model.weights.read(t.name);
}

describe('fuzz: model files', () => {
  it('safetensors headers: random bytes, flipped and cut bytes, mutated header JSON', async () => {
    const valid = folders.get('llama')?.safetensors as Uint8Array;
    const header = headerOf(valid);
    const input = fc.oneof(
      randomBytes(valid, 8),
      mutatedBytes(valid),
      mutatedJsonText(header).map((text) => withHeader(valid, text)),
    );
    await fc.assert(
      fc.asyncProperty(input, async (bytes) => {
        await expectOnlyTyped([ModelFormatError], bytes.length, async () => {
          const file = await readSafetensorsHeader(bytesSource('model.safetensors', bytes));
          for (const info of file.tensors.values()) await readTensorF32(info);
        });
      }),
      fuzzParameters(400, 0x5afe),
    );
  });

  it('config.json of each family, parsed alone', async () => {
    const input = fc.oneof(
      fc.string({ maxLength: 64 }),
      ...FAMILIES.map((f) => mutatedJsonText((folders.get(f) as Folder).config)),
    );
    await fc.assert(
      fc.asyncProperty(input, async (text) => {
        await expectOnlyTyped([ModelFormatError], text.length, () => parseConfig('config.json', text));
      }),
      fuzzParameters(600, 0xc0f1),
    );
  });

  it('a folder whose config.json is mutated opens or is refused clearly, never allocates what it claims', async () => {
    const input = fc.oneof(
      ...FAMILIES.map((family) =>
        mutatedJsonText((folders.get(family) as Folder).config).map((text) => ({ family, text })),
      ),
    );
    await fc.assert(
      fc.asyncProperty(input, async ({ family, text }) => {
        const sources = [
          bytesSource('config.json', encode(text)),
          bytesSource('model.safetensors', (folders.get(family) as Folder).safetensors),
        ];
        await expectOnlyTyped([ModelFormatError], totalSize(sources), () => openAndRead(sources));
      }),
      fuzzParameters(600, 0xf01d),
    );
  });

  it('a folder whose safetensors file is mutated', async () => {
    const input = fc.constantFrom(...FAMILIES).chain((family) => {
      const valid = (folders.get(family) as Folder).safetensors;
      return fc
        .oneof(
          mutatedBytes(valid),
          mutatedJsonText(headerOf(valid)).map((t) => withHeader(valid, t)),
        )
        .map((bytes) => ({ family, bytes }));
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ family, bytes }) => {
        const sources = [
          bytesSource('config.json', encode((folders.get(family) as Folder).config)),
          bytesSource('model.safetensors', bytes),
        ];
        await expectOnlyTyped([ModelFormatError], totalSize(sources), () => openAndRead(sources));
      }),
      fuzzParameters(300, 0x7e45),
    );
  });

  it('a sharded checkpoint whose index or shards are mutated', async () => {
    const input = fc.record({
      index: fc.oneof(fc.constant(shards.index), mutatedJson(shards.index)),
      which: fc.nat(1),
      shard: fc.option(mutatedBytes(shards.files[0] as Uint8Array), { freq: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ index, which, shard }) => {
        const files = shards.files.map((f, i) => (shard !== null && i === which ? shard : f));
        const sources = [
          bytesSource('config.json', encode((folders.get('llama') as Folder).config)),
          bytesSource('model.safetensors.index.json', encode(index)),
          ...files.map((f, i) => bytesSource(shards.names[i] as string, f)),
        ];
        await expectOnlyTyped([ModelFormatError], totalSize(sources), () => openAndRead(sources));
      }),
      fuzzParameters(300, 0x54a2),
    );
  });

  it('llama2.c .bin checkpoints: random and mutated headers and data', async () => {
    const input = fc.oneof(
      randomBytes(llama2c, 28),
      mutatedBytes(llama2c),
      mutatedBytes(llama2c.subarray(0, 28)),
    );
    await fc.assert(
      fc.asyncProperty(input, async (bytes) => {
        const sources = [bytesSource('model.bin', bytes)];
        await expectOnlyTyped([ModelFormatError], bytes.length, () => openAndRead(sources));
      }),
      fuzzParameters(400, 0x11a2),
    );
  });
});
