import { describe, expect, it } from 'vitest';
import { freshSeed } from '../kernels/random';
import { bytesSource } from './byteSource';
import { openModel } from './checkpoint';
import { exportHfModel, streamHfSafetensors } from './export';
import type { Dtype } from './safetensors';
import { convertSafetensors, randomTensors, tinyConfig } from './testModels';
import { memoryWeightSource, type WeightSource } from './weights';

// The streamed export (one tensor in memory at a time) must be the in-memory export byte for
// byte, for each family's layout (GPT-2's transposed and fused c_attn, OPT's and Llama's plain
// matrices) and for a 16-bit checkpoint exported in its own dtype.

async function streamed(source: WeightSource, metadata: Record<string, string>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await streamHfSafetensors(source, metadata, async (bytes) => {
    chunks.push(bytes.slice());
  });
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const modelFile = (files: { name: string; data: Uint8Array }[]) =>
  (files.find((f) => f.name === 'model.safetensors') as { data: Uint8Array }).data;

describe('streamHfSafetensors', () => {
  for (const family of ['gpt2', 'opt', 'llama'] as const) {
    it(`writes exportHfModel's model.safetensors byte for byte: ${family}, F32 and F16`, async () => {
      const seed = freshSeed();
      const config = tinyConfig(family);
      const f32 = memoryWeightSource(config, randomTensors(config, seed), `tiny ${family}`);
      const metadata = { method: 'test', seed: String(seed) };
      const want = modelFile(await exportHfModel(f32, metadata));
      expect(await streamed(f32, metadata), `seed ${seed}`).toEqual(want);

      const dtype: Dtype = 'F16';
      const files = (await exportHfModel(f32)).map((f) => ({ name: f.name, data: f.data }));
      const half = await openModel(
        await Promise.all(
          files.map(async (f) =>
            bytesSource(
              f.name,
              f.name === 'model.safetensors' ? await convertSafetensors(f.data, dtype) : f.data,
            ),
          ),
        ),
      );
      expect(half.weights.dtype?.('layers.0.q.weight')).toBe(dtype);
      const wantHalf = modelFile(await exportHfModel(half.weights, metadata));
      expect(await streamed(half.weights, metadata), `seed ${seed}, F16`).toEqual(wantHalf);
    });
  }
});
