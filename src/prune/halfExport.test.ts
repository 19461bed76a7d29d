import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { freshSeed, Random } from '../kernels/random';
import { bytesSource } from '../model/byteSource';
import { openModel } from '../model/checkpoint';
import { exportHfModel } from '../model/export';
import { readSafetensorsHeader, type TensorInfo } from '../model/safetensors';
import { convertSafetensors } from '../model/testModels';
import { defaultPruneOptions, prunedWeightSource, pruneModel } from './job';

// A pruned 16-bit checkpoint is exported in its own dtype (job.ts, prunedWeightSource): the pruned
// entries become zero bits and every other weight keeps its bytes, so the sparsity survives export.

const stories = (name: string) =>
  readFileSync(new URL(`../../public/models/stories260K/${name}`, import.meta.url));

let rt: GpuRuntime;
beforeAll(async () => {
  rt = await createNodeRuntime();
});
afterAll(() => rt.destroy());

describe('stories260K converted to F16, pruned', () => {
  const names = ['config.json', 'model.safetensors', 'tok512.bin'];
  const files = names.map((name) => ({ name, data: new Uint8Array(stories(name)) }));

  it('F16 in, pruned F16 out: pruned zeros are zero bits, kept and untouched weights keep their bytes', async () => {
    const converted = await Promise.all(
      files.map(async (f) =>
        bytesSource(
          f.name,
          f.name === 'model.safetensors' ? await convertSafetensors(f.data, 'F16') : f.data,
        ),
      ),
    );
    const opened = await openModel(converted);
    const c = opened.config;
    const options = defaultPruneOptions('magnitude', { context: c.maxPositions, parameters: 260_000 });
    const random = new Random(freshSeed());
    const calibration = Array.from({ length: 2 }, () =>
      Array.from({ length: 16 }, () => Math.floor(random.next() * c.vocabSize)),
    );
    const pruned = await pruneModel({ rt, source: opened.weights, calibration, options });
    const out = await exportHfModel(prunedWeightSource(opened.weights, pruned.tensors));
    const outFile = (out.find((f) => f.name === 'model.safetensors') as { data: Uint8Array }).data;
    const inFile = await convertSafetensors(new Uint8Array(stories('model.safetensors')), 'F16');
    const before = await readSafetensorsHeader(bytesSource('in', inFile));
    const after = await readSafetensorsHeader(bytesSource('out', outFile));
    const bits = async (info: TensorInfo) =>
      new Uint16Array(await info.source.read(info.offset, info.byteLength));
    expect([...after.tensors.keys()].sort()).toEqual([...before.tensors.keys()].sort());

    const sparsity = new Map(
      pruned.summary.blocks.flatMap((b) => b.matrices.map((m) => [m.tensor, m.sparsity])),
    );
    expect(sparsity.size).toBe(c.layers * 7);
    for (const [name, info] of before.tensors) {
      const stored = after.tensors.get(name) as TensorInfo;
      expect(stored.dtype, name).toBe('F16');
      expect(stored.shape).toEqual(info.shape);
      const input = await bits(info);
      const output = await bits(stored);
      // Llama's Hugging Face names map one to one onto the engine's (no transposes).
      const canonical = name
        .replace(/^model\./, '')
        .replace('self_attn.', '')
        .replace('mlp.', '')
        .replace('_proj', '');
      const matrix = pruned.tensors.get(canonical);
      if (!matrix) {
        expect(output, `${name} was not pruned and must be byte-identical`).toEqual(input);
        continue;
      }
      // Every entry checked, the wrong ones named together: one expect per entry of the 260K
      // took a third of this test's time.
      let zeros = 0;
      const wrong: string[] = [];
      for (let i = 0; i < input.length; i++) {
        if (matrix[i] === 0) {
          if (((output[i] as number) & 0x7fff) !== 0) wrong.push(`${name}[${i}] was pruned`);
          zeros++;
        } else if (output[i] !== input[i]) wrong.push(`${name}[${i}] was kept`);
      }
      expect(wrong.slice(0, 10), `${wrong.length} entries wrong`).toEqual([]);
      // Zero bits in the file are exactly the pruned entries: the sparsity survives export.
      expect(output.filter((b) => (b & 0x7fff) === 0).length).toBe(zeros);
      expect(zeros / input.length).toBe(sparsity.get(canonical));
    }
  });
});
