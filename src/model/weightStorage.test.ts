import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { withNodeRuntime } from '../host/testRuntimes';
import { decodeHalves } from '../kernels/halfFloat';
import { freshSeed } from '../kernels/random';
import { loadTokenizer } from '../tokenizer';
import { bytesSource } from './byteSource';
import { type OpenedModel, openModel } from './checkpoint';
import type { ModelConfig } from './config';
import { evaluatePerplexity, tokenizeEvalText } from './evaluate';
import { exportHfModel } from './export';
import { fitCheck } from './fit';
import { GpuModel, type Residency } from './gpuModel';
import type { Dtype } from './safetensors';
import { convertSafetensors, randomTensors, tinyConfig } from './testModels';
import { canonicalTensors, memoryWeightSource, type WeightSource } from './weights';

// F16 and BF16 checkpoints keep their matrices 16-bit on the GPU. Decoding a 16-bit value to f32 is
// exact, so a 16-bit model must compute what the f32 model built from its upcast values computes:
// the same f32 numbers through the same kernels. Only f32 rounding may differ (a shader compiler may
// contract the two pipeline variants' multiply-adds differently), and the f32 model is within 2e-4 of
// (1 + |logit|) and 1e-4 of a window's NLL of the float64 reference (gpuModel.test.ts,
// evaluate.test.ts); so twice those bounds hold between the two, and a misread weight (the wrong half
// of a word, a wrong offset) is off by O(1).
const LOGIT_BOUND = 4e-4;
const PPL_BOUND = 2e-4;

const publicFile = (path: string) => readFileSync(new URL(`../../public/${path}`, import.meta.url));
const stories = (name: string) => publicFile(`models/stories260K/${name}`);

let rt: GpuRuntime;
withNodeRuntime((made) => {
  rt = made;
});

async function openConverted(
  files: { name: string; data: Uint8Array }[],
  dtype: Dtype,
): Promise<OpenedModel> {
  const converted = await Promise.all(
    files.map(async (f) =>
      bytesSource(f.name, f.name === 'model.safetensors' ? await convertSafetensors(f.data, dtype) : f.data),
    ),
  );
  return openModel(converted);
}

/** The f32 model of the same values: every tensor read (upcast) from the 16-bit source. */
async function upcast(source: WeightSource): Promise<WeightSource> {
  const tensors = new Map<string, Float32Array>();
  for (const t of canonicalTensors(source.config)) tensors.set(t.name, await source.read(t.name));
  return memoryWeightSource(source.config, tensors, `${source.description} upcast`);
}

/** Loads a model and returns it with the 'weights' bytes its load added to the ledger. */
async function loadCounting(source: WeightSource, residency: Residency = 'resident') {
  const before = rt.ledger.bytesIn('weights');
  const model = await GpuModel.load(rt, source, { residency });
  return { model, bytes: rt.ledger.bytesIn('weights') - before };
}

const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describe('tiny 16-bit models of each family', () => {
  const cases: [string, ModelConfig, Residency][] = [
    // GPT-2 stores its matrices in × out with q, k and v fused: the 16-bit read transposes and splits.
    ['GPT-2', tinyConfig('gpt2'), 'resident'],
    ['OPT, streaming block by block', tinyConfig('opt'), 'streaming'],
    ['Llama (untied head)', tinyConfig('llama'), 'resident'],
    // Odd widths (no rotary embeddings, which need an even head size): the matrices have odd element
    // counts, so their buffers end in half a word, and half their rows start in a word's high half.
    [
      'OPT with odd widths',
      tinyConfig('opt', { hidden: 15, heads: 3, headDim: 5, ffnHidden: 21 }),
      'resident',
    ],
  ];
  for (const [label, config, residency] of cases) {
    for (const dtype of ['F16', 'BF16'] as const) {
      it(`${label}, ${dtype}: same layout as the f32 read, same logits as the upcast f32 model`, async () => {
        const seed = freshSeed();
        const files = await exportHfModel(memoryWeightSource(config, randomTensors(config, seed), 'random'));
        const opened = await openConverted(files, dtype);
        const source = opened.weights;
        const wide = await upcast(source);
        for (const t of canonicalTensors(config)) {
          expect(source.dtype?.(t.name)).toBe(dtype);
          const halves = await (source.readHalf as NonNullable<WeightSource['readHalf']>)(t.name);
          expect(decodeHalves(dtype, halves), t.name).toEqual(await wide.read(t.name));
        }
        const half = await loadCounting(source, residency);
        const full = await loadCounting(wide, residency);
        try {
          const ids = Array.from({ length: 11 }, (_, i) => (i * 7 + seed) % config.vocabSize);
          const got = await half.model.logits(ids);
          const want = await full.model.logits(ids);
          let worst = 0;
          for (const [i, w] of want.entries())
            worst = Math.max(worst, Math.abs((got[i] as number) - w) / (1 + Math.abs(w)));
          expect(worst, `seed ${seed}`).toBeLessThanOrEqual(LOGIT_BOUND);
          // Resident: the fit check counts exactly what the ledger holds (streaming loads the shared part only).
          const fit = fitCheck(config, rt.limits, 2 ** 30, 11, source);
          if (residency === 'resident') expect(half.bytes).toBe(fit.weightBytes);
          else expect(half.bytes).toBe(fit.sharedBytes);
          expect(fitCheck(config, rt.limits, 2 ** 30, 11, wide).weightBytes).toBeGreaterThan(fit.weightBytes);
        } finally {
          half.model.destroy();
          full.model.destroy();
        }
      });
    }
  }
});

describe('stories260K converted to 16 bits', () => {
  const names = ['config.json', 'model.safetensors', 'tok512.bin'];
  const files = names.map((name) => ({ name, data: new Uint8Array(stories(name)) }));

  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype}: matrices take half the bytes of f32, and the perplexity is the upcast f32 model's`, async () => {
      const opened = await openConverted(files, dtype);
      const half = await loadCounting(opened.weights);
      const full = await loadCounting(await upcast(opened.weights));
      try {
        const tensors = canonicalTensors(opened.config);
        const vectorBytes = tensors
          .filter((t) => t.shape.length === 1)
          .reduce((s, t) => s + 4 * elements(t.shape), 0);
        const matrixElements = tensors
          .filter((t) => t.shape.length === 2)
          .reduce((s, t) => s + elements(t.shape), 0);
        // Norm gains stay f32; every matrix is 2 bytes an element, half its f32 load.
        expect(full.bytes - vectorBytes).toBe(4 * matrixElements);
        expect(half.bytes - vectorBytes).toBe(2 * matrixElements);

        const tokenizer = loadTokenizer(
          [{ name: 'tok512.bin', data: stories('tok512.bin').buffer as ArrayBuffer }],
          { vocabSize: opened.config.vocabSize },
        );
        const tokens = tokenizeEvalText(
          'tinystories',
          publicFile('data/tinystories/valid-sample.txt').toString('utf8'),
          tokenizer,
        );
        const options = { seqLen: 64, maxWindows: 2 };
        const got = await evaluatePerplexity(half.model, tokens, options);
        const want = await evaluatePerplexity(full.model, tokens, options);
        expect(got.windows).toBe(2);
        expect(Math.abs(got.ppl - want.ppl) / want.ppl, `${got.ppl} vs ${want.ppl}`).toBeLessThanOrEqual(
          PPL_BOUND,
        );
        expect(got.ppl).toBeGreaterThan(1);
      } finally {
        half.model.destroy();
        full.model.destroy();
      }
    });
  }
});
