import { describe, expect, it } from 'vitest';
import { freshSeed, Random } from '../kernels/random';
import { encodeBitmask } from '../sparse/bitmaskFormat';
import { encodeNm } from '../sparse/nmFormat';
import { randomNmDense, randomUnstructuredDense } from '../sparse/randomSparse';
import { bytesSource, ModelFormatError } from './byteSource';
import { openModel } from './checkpoint';
import { exportHfModel } from './export';
import {
  readSafetensorsHeader,
  type TensorToWrite,
  type WordTensorToWrite,
  writeSafetensors,
} from './safetensors';
import { compressedTensors, expandCompressed, type SparseExportFormat } from './sparseSafetensors';
import { randomTensors, tinyConfig } from './testModels';
import { canonicalTensors, memoryWeightSource } from './weights';

type Parts = (TensorToWrite | WordTensorToWrite)[];

const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('compressed safetensors', () => {
  for (const [family, format] of [
    ['llama', { format: 'nm', n: 2, m: 4 }],
    ['opt', { format: 'nm', n: 2, m: 4 }],
    ['gpt2', { format: 'bitmask' }],
  ] as const) {
    it(`a pruned ${family} model exported ${format.format} reads back bit for bit through openModel`, async () => {
      const seed = freshSeed();
      const random = new Random(seed);
      const config = tinyConfig(family);
      const tensors = randomTensors(config, seed);
      // The blocks' linear layers pruned, the embeddings and norms dense.
      for (const t of canonicalTensors(config)) {
        if (t.shape.length !== 2 || !t.name.startsWith('layers.')) continue;
        const [rows, cols] = t.shape as [number, number];
        tensors.set(
          t.name,
          format.format === 'nm'
            ? randomNmDense(random, rows, cols, 2, 4, true)
            : randomUnstructuredDense(random, rows, cols, 0.5),
        );
      }
      const source = memoryWeightSource(config, tensors, 'pruned');
      const dense = await exportHfModel(source);
      const packed = await exportHfModel(source, { note: 'kept' }, format as SparseExportFormat);
      const [file, denseFile] = [packed[0]?.data, dense[0]?.data] as [Uint8Array, Uint8Array];
      expect(file.length, `seed ${seed}`).toBeLessThan(denseFile.length);
      const header = await readSafetensorsHeader(bytesSource('model.safetensors', file));
      const keys = Object.keys(header.metadata).filter((k) => k.startsWith('sparse:'));
      expect(keys.length).toBeGreaterThan(0);
      expect(header.metadata.note).toBe('kept');
      const opened = await openModel([
        bytesSource('config.json', packed[1]?.data as Uint8Array),
        bytesSource('model.safetensors', file),
      ]);
      for (const t of canonicalTensors(config))
        expect(bitsOf(await opened.weights.read(t.name)), `${t.name} seed ${seed}`).toEqual(
          bitsOf(await source.read(t.name)),
        );
    });
  }

  const fileOf = (tensors: Parts, metadata: Record<string, string>) =>
    readSafetensorsHeader(bytesSource('m.safetensors', writeSafetensors(tensors, metadata)));

  it('refuses inconsistent files, naming the tensor', async () => {
    const random = new Random(freshSeed());
    const nm = compressedTensors(encodeNm('w', randomNmDense(random, 6, 16, 2, 4), 6, 16, 2, 4));
    const un = compressedTensors(encodeBitmask('u', randomUnstructuredDense(random, 5, 40, 0.5), 5, 40));
    const open = async (tensors: Parts, metadata: Record<string, string>) =>
      expandCompressed(await fileOf(tensors, metadata));
    // Whole: fine.
    expect((await open([...nm.tensors, ...un.tensors], { ...nm.metadata, ...un.metadata })).size).toBe(2);
    await expect(open(nm.tensors.slice(1), nm.metadata)).rejects.toThrow(
      /m\.safetensors \(tensor "w"\): compressed matrix: its part w\.nm_values \(F32\) is missing/,
    );
    await expect(
      open(nm.tensors, { 'sparse:w': '{"format":"nm","n":2,"m":4,"rows":6,"cols":20}' }),
    ).rejects.toThrow(/tensor "w".*w\.nm_values has shape \[6,8\], the metadata's shape needs \[6,10\]/);
    await expect(open(nm.tensors, { 'sparse:w': '{"format":"csr","rows":6,"cols":16}' })).rejects.toThrow(
      /names no format/,
    );
    await expect(
      open(nm.tensors, { 'sparse:w': '{"format":"nm","n":2,"rows":6,"cols":16}' }),
    ).rejects.toThrow(/field m = undefined/);
    await expect(open(nm.tensors, { 'sparse:w': 'nm 2:4' })).rejects.toThrow(/is not JSON/);
    // U32 parts with no metadata, and a dense tensor under the compressed name.
    await expect(open(nm.tensors, {})).rejects.toThrow(/tensor "w\.nm_indices"\): is U32/);
    const w = { name: 'w', shape: [1], data: new Float32Array(1) } satisfies TensorToWrite;
    await expect(open([...nm.tensors, w], nm.metadata)).rejects.toThrow(/also holds a dense tensor/);
    // A duplicate index is found when the tensor is read.
    const readW = async (parts: Parts, metadata: Record<string, string>, name: string) => {
      const info = (await open(parts, metadata)).get(name);
      if (!info) throw new Error(`no tensor ${name}`);
      return info.source.read(0, 4);
    };
    const [values, indexWords] = nm.tensors as [TensorToWrite, WordTensorToWrite];
    const indices = indexWords.data.slice();
    indices[0] = ((indices[0] as number) & ~0xf) | 0x5; // group 0: indices 1, 1
    const dup: Parts = [values, { ...indexWords, data: indices }];
    await expect(readW(dup, nm.metadata, 'w')).rejects.toThrow(ModelFormatError);
    await expect(readW(dup, nm.metadata, 'w')).rejects.toThrow(
      /tensor "w"\): compressed matrix: row 0, group 0: index 1 is duplicated/,
    );
    // Bitmask: row offsets that disagree with the mask.
    const [mask, rowOffsets, unValues] = un.tensors as [WordTensorToWrite, WordTensorToWrite, TensorToWrite];
    const offsets = rowOffsets.data.slice();
    offsets[2] = (offsets[2] as number) + 1;
    await expect(readW([mask, { ...rowOffsets, data: offsets }, unValues], un.metadata, 'u')).rejects.toThrow(
      /tensor "u"\).*row 1: its mask has/,
    );
  });
});
