import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { withNodeRuntime } from '../host/testRuntimes';
import { freshSeed } from '../kernels/random';
import { parseLlama2cTokenizer } from '../tokenizer';
import type { ModelConfig } from './config';
import { fitCheck } from './fit';
import { GpuModel, type Residency } from './gpuModel';
import { parseLlama2c, toHalfRope } from './llama2c';
import { referenceLogits, referenceNll } from './reference';
import { randomTensors, STORIES260K_GREEDY, tinyConfig } from './testModels';
import { memoryWeightSource } from './weights';

// f32 storage and accumulation through a few layers against a float64 reference: logits agree to
// within 2e-4 of (1 + |logit|), and a window's NLL sum to 1e-4 relative. A wrong kernel, layout
// or operator order is off by O(1).
const LOGIT_BOUND = 2e-4;
const NLL_BOUND = 1e-4;

const file = (name: string) => {
  const b = readFileSync(new URL(`../../public/models/stories260K/${name}`, import.meta.url));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};

let rt: GpuRuntime;
withNodeRuntime((made) => {
  rt = made;
});

async function compare(config: ModelConfig, residency: Residency = 'resident') {
  const seed = freshSeed();
  const tensors = randomTensors(config, seed);
  const model = await GpuModel.load(rt, memoryWeightSource(config, tensors, 'random'), { residency });
  try {
    const ids = Array.from({ length: 11 }, (_, i) => (i * 7 + seed) % config.vocabSize);
    const ref = referenceLogits(config, tensors, ids);
    const gpu = await model.logits(ids);
    let worst = 0;
    for (const [t, row] of ref.entries()) {
      for (const [i, r] of row.entries()) {
        worst = Math.max(worst, Math.abs((gpu[t * config.vocabSize + i] as number) - r) / (1 + Math.abs(r)));
      }
    }
    expect(worst, `seed ${seed}`).toBeLessThanOrEqual(LOGIT_BOUND);
    const nll = referenceNll(config, tensors, ids);
    const score = await model.scoreWindow(ids);
    expect(score.count).toBe(ids.length - 1);
    expect(Math.abs(score.nllSum - nll.sum) / nll.sum, `seed ${seed}`).toBeLessThanOrEqual(NLL_BOUND);
  } finally {
    model.destroy();
  }
}

describe('GPU forward pass against the float64 reference', () => {
  it('GPT-2 (LayerNorm, learned positions, GELU tanh, tied head, biases)', () => compare(tinyConfig('gpt2')));
  it('GPT-2 with exact GELU', () => compare(tinyConfig('gpt2', { activation: 'gelu' })));
  it('OPT (ReLU, positions offset by 2)', () => compare(tinyConfig('opt')));
  it('Llama (RMSNorm, RoPE rotate_half, SwiGLU, untied head)', () => compare(tinyConfig('llama')));
  it('Llama with grouped-query attention and interleaved RoPE', () =>
    compare(tinyConfig('llama', { heads: 4, kvHeads: 2, headDim: 6, hidden: 24, ropeStyle: 'interleaved' })));
  it('Llama with attention biases and a tied head', () =>
    compare(tinyConfig('llama', { bias: true, tiedEmbeddings: true })));
  it('streams block by block with the same result', () => compare(tinyConfig('opt'), 'streaming'));

  it('holds the shared tensors and one block of weights at a time when streaming', async () => {
    const config = tinyConfig('llama', { layers: 4 });
    const model = await GpuModel.load(rt, memoryWeightSource(config, randomTensors(config, 5), 'random'), {
      residency: 'streaming',
    });
    let peak = 0;
    const unsubscribe = rt.ledger.subscribe((s) => {
      peak = Math.max(peak, s.byCategory.weights ?? 0);
    });
    await model.scoreWindow([1, 2, 3, 4, 5]);
    unsubscribe();
    model.destroy();
    const fit = fitCheck(config, rt.limits, 2 ** 30, 5);
    expect(peak).toBeGreaterThan(fit.sharedBytes);
    expect(peak).toBeLessThanOrEqual(fit.sharedBytes + fit.largestBlockBytes);
  });

  it('frees every buffer it allocated', async () => {
    // Staging buffers for readback are pooled by the runtime, not owned by the model.
    const held = () => rt.ledger.snapshot().liveBytes - rt.ledger.bytesIn('staging');
    const before = held();
    const config = tinyConfig('gpt2');
    const model = await GpuModel.load(rt, memoryWeightSource(config, randomTensors(config, 1), 'random'));
    await model.scoreWindow([1, 2, 3]);
    expect(rt.ledger.bytesIn('weights')).toBeGreaterThan(0);
    model.destroy();
    expect(held()).toBe(before);
  });

  it('refuses token ids outside the vocabulary, windows longer than the context, and ragged passes', async () => {
    const config = tinyConfig('llama');
    const model = await GpuModel.load(rt, memoryWeightSource(config, randomTensors(config, 2), 'random'));
    await expect(model.scoreWindow([1, 99])).rejects.toThrow(/token id 99 is outside the vocabulary of 37/);
    await expect(model.scoreWindow(new Array(17).fill(1))).rejects.toThrow(/17 tokens is outside 1..16/);
    await expect(
      model.scoreWindows([
        [1, 2, 3],
        [1, 2, 3],
        [4, 5],
      ]),
    ).rejects.toThrow(/the windows of one pass differ in length \(3 and 2\)/);
    await expect(
      model.scoreWindows([
        [1, 2],
        [3, 37],
      ]),
    ).rejects.toThrow(/token id 37 is outside/);
    model.destroy();
  });
});

describe('stories260K on the GPU', () => {
  it('decodes greedily from BOS into the text the original C implementation prints', async () => {
    const imported = toHalfRope(parseLlama2c('stories260K.bin', file('stories260K.bin')));
    const tokenizer = parseLlama2cTokenizer(file('tok512.bin'), 512);
    const model = await GpuModel.load(
      rt,
      memoryWeightSource(imported.config, imported.tensors, 'stories260K'),
    );
    // Greedy decoding yields a sequence exactly when every token is the argmax of the logits of the
    // prefix before it, which one causal forward pass over the whole sequence checks at once.
    const ids = tokenizer.encode(STORIES260K_GREEDY, { addBos: true });
    const logits = await model.logits(ids);
    model.destroy();
    const V = imported.config.vocabSize;
    const greedy = [1];
    for (let t = 0; t + 1 < ids.length; t++) {
      const row = Array.from(logits.subarray(t * V, (t + 1) * V));
      greedy.push(row.indexOf(Math.max(...row)));
    }
    expect(greedy).toEqual(ids);
    expect(tokenizer.decode(greedy)).toBe(STORIES260K_GREEDY);
  });
});
