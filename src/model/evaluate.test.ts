import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { loadTokenizer, type Tokenizer } from '../tokenizer';
import { bytesSource } from './byteSource';
import { openModel } from './checkpoint';
import { type EvalText, evaluatePerplexity, tokenizeEvalText } from './evaluate';
import { fitCheck } from './fit';
import { GpuModel } from './gpuModel';
import { referenceNll, type TensorMap } from './reference';
import { canonicalTensors } from './weights';

const read = (path: string) => readFileSync(new URL(`../../public/${path}`, import.meta.url));

let rt: GpuRuntime;
let model: GpuModel;
let tokenizer: Tokenizer;
let tensors: TensorMap;
beforeAll(async () => {
  rt = await createNodeRuntime();
  const names = ['config.json', 'model.safetensors', 'tok512.bin'];
  const opened = await openModel(names.map((n) => bytesSource(n, read(`models/stories260K/${n}`))));
  model = await GpuModel.load(rt, opened.weights);
  tokenizer = loadTokenizer(
    opened.otherFiles.map((f) => ({
      name: f.name,
      data: read(`models/stories260K/${f.name}`).buffer as ArrayBuffer,
    })),
    { vocabSize: opened.config.vocabSize },
  );
  const map = new Map<string, Float32Array>();
  for (const t of canonicalTensors(opened.config)) map.set(t.name, await opened.weights.read(t.name));
  tensors = map;
});
afterAll(() => {
  model.destroy();
  rt.destroy();
});

/** The papers' protocol computed independently: windows cut here, scored by the f64 reference. */
function referencePpl(tokens: number[], seqLen: number, windows: number): number {
  let sum = 0;
  let count = 0;
  for (let w = 0; w < windows; w++) {
    const nll = referenceNll(model.config, tensors, tokens.slice(w * seqLen, (w + 1) * seqLen));
    sum += nll.sum;
    count += nll.count;
  }
  return Math.exp(sum / count);
}

describe('perplexity of stories260K on the GPU', () => {
  const cases: [EvalText, string, number, number][] = [
    ['tinystories', 'data/tinystories/valid-sample.txt', 64, 3],
    ['wikitext2', 'data/wikitext-2/wiki.test.raw', 128, 2],
  ];
  for (const [kind, path, seqLen, windows] of cases) {
    it(`${kind}: equals the float64 reference on the same windows`, async () => {
      const tokens = tokenizeEvalText(kind, read(path).toString('utf8'), tokenizer);
      expect(tokens[0]).toBe(1);
      const progress: number[] = [];
      // One text timed on the GPU's clock (off by default on a CPU adapter), one not.
      const gpuTime = kind === 'tinystories';
      const result = await evaluatePerplexity(model, tokens, {
        seqLen,
        maxWindows: windows,
        onWindow: (p) => progress.push(p.done),
        gpuTime,
      });
      // The windows fit one pass: one read-back of every token's NLL; the counters cover the whole
      // evaluation.
      const counters = result.counters;
      expect(counters?.readbacks).toBe(1);
      expect(counters?.bytesRead).toBe(4 * windows * seqLen);
      expect(counters?.dispatches).toBeGreaterThan(windows);
      expect(counters?.submissions).toBeGreaterThanOrEqual(counters?.readbacks ?? 0);
      if (gpuTime && rt.capability.features['timestamp-query']) expect(counters?.gpuMs).toBeGreaterThan(0);
      else expect(counters?.gpuMs).toBeNull();
      expect(rt.gpuClock()).toBeNull();
      expect(progress).toEqual(Array.from({ length: windows }, (_, i) => i + 1));
      expect(result.windows).toBe(windows);
      expect(result.tokensScored).toBe(windows * seqLen);
      // f32 GPU against f64 CPU: 1e-4 relative on the perplexity.
      const ref = referencePpl(tokens, seqLen, windows);
      expect(Math.abs(result.ppl - ref) / ref).toBeLessThan(1e-4);
      expect(result.ppl).toBeGreaterThan(1);
    });
  }

  it('scores a pass of windows exactly as it scores them one at a time', async () => {
    const tokens = tokenizeEvalText(
      'tinystories',
      read('data/tinystories/valid-sample.txt').toString('utf8'),
      tokenizer,
    );
    const options = { seqLen: 24, maxWindows: 5 };
    const one = await evaluatePerplexity(model, tokens, { ...options, windowsPerPass: 1 });
    // Passes of 3 and 2 windows: the second pass reuses the first one's larger buffers.
    const batched = await evaluatePerplexity(model, tokens, { ...options, windowsPerPass: 3 });
    expect(one.counters?.readbacks).toBe(5);
    expect(batched.counters?.readbacks).toBe(2);
    // Row for row the same arithmetic in the same order, so the same bits.
    expect(batched.windowPpl).toEqual(one.windowPpl);
    expect(batched.ppl).toBe(one.ppl);
  });

  it('stops between passes when cancelled', async () => {
    const tokens = tokenizeEvalText(
      'tinystories',
      read('data/tinystories/valid-sample.txt').toString('utf8'),
      tokenizer,
    );
    const controller = new AbortController();
    const done: number[] = [];
    const run = evaluatePerplexity(model, tokens, {
      seqLen: 32,
      windowsPerPass: 2,
      signal: controller.signal,
      onWindow: (p) => {
        done.push(p.done);
        if (p.done === 2) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(done).toEqual([1, 2]);
  });

  it('refuses a sequence longer than the context and a text shorter than one window', async () => {
    await expect(evaluatePerplexity(model, [1, 2, 3], { seqLen: 513 })).rejects.toThrow(
      /longer than the model's context/,
    );
    await expect(evaluatePerplexity(model, [1, 2, 3], { seqLen: 4 })).rejects.toThrow(
      /fewer than one window/,
    );
  });
});

describe('fit check', () => {
  it('counts bytes from the config and judges against the budget and the buffer limit', () => {
    const limits = rt.limits;
    const c = model.config;
    const weights = canonicalTensors(c).reduce((s, t) => s + 4 * t.shape.reduce((a, b) => a * b, 1), 0);
    const fits = fitCheck(c, limits, 2 ** 30, 512);
    expect(fits.verdict).toBe('fits');
    expect(fits.weightBytes).toBe(weights);
    const streaming = fitCheck(c, limits, fits.peakStreamingBytes, 512);
    expect(streaming.verdict).toBe('fits block by block');
    expect(fitCheck(c, limits, fits.peakStreamingBytes - 1, 512).verdict).toBe('does not fit');
    const tiny = fitCheck(c, { ...limits, maxBufferSize: 1024 }, 2 ** 30, 512);
    expect(tiny.verdict).toBe('does not fit');
    expect(tiny.reasons[0]).toMatch(/tok_embeddings needs 128.0 KiB, above this GPU's largest buffer/);
  });
});
