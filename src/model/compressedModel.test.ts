import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { bitmaskBytes } from '../sparse/bitmaskFormat';
import { nmBytes } from '../sparse/nmFormat';
import { loadTokenizer } from '../tokenizer';
import { bytesSource } from './byteSource';
import { openModel } from './checkpoint';
import { evaluatePerplexity, tokenizeEvalText } from './evaluate';
import { generate } from './generate';
import { GpuModel, type LoadOptions } from './gpuModel';
import {
  blockOperators,
  type CanonicalTensor,
  canonicalTensors,
  memoryWeightSource,
  type WeightSource,
} from './weights';

// stories260K pruned at 2:4 and at 50% unstructured, run with its block matrices compressed on the
// GPU (LoadOptions.compress) and multiplied by the sparse kernels, against the same pruned weights
// stored densely and multiplied by the tiled matmul. Both forwards are within 2e-4·(1 + |logit|) of
// the float64 reference (gpuModel.test.ts; the sparse kernels' own bounds are in
// src/sparse/sparseKernels.test.ts), so they are within twice that of each other; a misread index
// or mask is off by O(1). Perplexity: each within 1e-4 relative of the reference (evaluate.test.ts).
const LOGIT_BOUND = 4e-4;
const PPL_BOUND = 2e-4;

const publicFile = (path: string) => readFileSync(new URL(`../../public/${path}`, import.meta.url));
const stories = (name: string) => new Uint8Array(publicFile(`models/stories260K/${name}`));

let rt: GpuRuntime;
let dense: WeightSource;
let tokens: number[];
const matrices: { name: string; rows: number; cols: number }[] = [];

beforeAll(async () => {
  rt = await createNodeRuntime();
  const opened = await openModel(
    ['config.json', 'model.safetensors', 'tok512.bin'].map((n) => bytesSource(n, stories(n))),
  );
  dense = opened.weights;
  const tokenizer = loadTokenizer(
    [{ name: 'tok512.bin', data: stories('tok512.bin').buffer as ArrayBuffer }],
    {
      vocabSize: opened.config.vocabSize,
    },
  );
  tokens = tokenizeEvalText(
    'tinystories',
    publicFile('data/tinystories/valid-sample.txt').toString('utf8'),
    tokenizer,
  );
  const c = opened.config;
  for (let l = 0; l < c.layers; l++)
    for (const op of blockOperators(c)) {
      const name = `layers.${l}.${op}.weight`;
      const t = canonicalTensors(c).find((x) => x.name === name) as CanonicalTensor;
      const [rows, cols] = t.shape as [number, number];
      matrices.push({ name, rows, cols });
    }
});
afterAll(() => rt.destroy());

/** Every block matrix with the smallest |w| of each group (of `group` along a row) set to 0, `prune` of them. */
async function pruned(
  group: (cols: number) => number,
  prune: (size: number) => number,
): Promise<WeightSource> {
  const tensors = new Map<string, Float32Array>();
  for (const t of canonicalTensors(dense.config)) tensors.set(t.name, await dense.read(t.name));
  for (const { name, cols } of matrices) {
    const w = tensors.get(name) as Float32Array;
    const size = group(cols);
    for (let start = 0; start < w.length; start += size) {
      const order = Array.from({ length: size }, (_, i) => start + i).sort(
        (a, b) => Math.abs(w[a] as number) - Math.abs(w[b] as number),
      );
      for (const i of order.slice(0, prune(size))) w[i] = 0;
    }
  }
  return memoryWeightSource(dense.config, tensors, 'pruned');
}

async function loadCounting(source: WeightSource, options: LoadOptions = {}) {
  const before = rt.ledger.bytesIn('weights');
  const model = await GpuModel.load(rt, source, options);
  return { model, bytes: rt.ledger.bytesIn('weights') - before };
}

/** How much of the text each comparison runs: the bitmask format multiplies one token at a time. */
interface Sizes {
  logitTokens: number;
  seqLen: number;
  windows: number;
  newTokens: number;
}

async function compare(
  source: WeightSource,
  compress: NonNullable<LoadOptions['compress']>,
  matrixBytes: number,
  sizes: Sizes,
) {
  const stored = await loadCounting(source);
  const sparse = await loadCounting(source, { compress });
  try {
    const denseMatrixBytes = matrices.reduce((s, m) => s + 4 * m.rows * m.cols, 0);
    // Everything but the block matrices is as before; they take exactly their format's bytes.
    expect(sparse.bytes).toBe(stored.bytes - denseMatrixBytes + matrixBytes);
    expect(sparse.bytes).toBeLessThan(stored.bytes);

    const ids = tokens.slice(0, sizes.logitTokens);
    const got = await sparse.model.logits(ids);
    const want = await stored.model.logits(ids);
    let worst = 0;
    for (const [i, w] of want.entries())
      worst = Math.max(worst, Math.abs((got[i] as number) - w) / (1 + Math.abs(w)));
    expect(worst).toBeLessThanOrEqual(LOGIT_BOUND);

    const options = { seqLen: sizes.seqLen, maxWindows: sizes.windows };
    const a = await evaluatePerplexity(sparse.model, tokens, options);
    const b = await evaluatePerplexity(stored.model, tokens, options);
    expect(Math.abs(a.ppl - b.ppl) / b.ppl, `${a.ppl} vs ${b.ppl}`).toBeLessThanOrEqual(PPL_BOUND);

    // One token at a time through the cache: the matrix–vector kernels.
    const tokenizer = {
      kind: 'ids',
      vocabSize: dense.config.vocabSize,
      bosId: 1,
      encode: () => [],
      decode: () => '',
    };
    const greedy = { maxNewTokens: sizes.newTokens, stopIds: [] as number[] };
    const x = await generate(sparse.model, tokenizer, tokens.slice(0, 5), greedy);
    const y = await generate(stored.model, tokenizer, tokens.slice(0, 5), greedy);
    expect(x.tokens).toEqual(y.tokens);
  } finally {
    stored.model.destroy();
    sparse.model.destroy();
  }
}

describe('a pruned model with compressed block matrices', () => {
  it('2:4: the N:M format’s bytes, and the logits, perplexity and greedy tokens of the dense storage', async () => {
    const source = await pruned(
      () => 4,
      () => 2,
    );
    const bytes = matrices.reduce((s, m) => s + nmBytes(m.rows, m.cols, 2, 4), 0);
    await compare(source, { format: 'nm', n: 2, m: 4 }, bytes, {
      logitTokens: 33,
      seqLen: 64,
      windows: 3,
      newTokens: 8,
    });
  });

  it('50% unstructured: the bitmask format’s bytes, and the same numbers as the dense storage', async () => {
    const source = await pruned(
      (cols) => cols,
      (size) => Math.floor(size / 2),
    );
    let bytes = 0;
    for (const m of matrices) {
      const w = await source.read(m.name);
      bytes += bitmaskBytes(m.rows, m.cols, w.filter((v) => v !== 0).length);
    }
    await compare(source, { format: 'bitmask' }, bytes, {
      logitTokens: 5,
      seqLen: 8,
      windows: 2,
      newTokens: 4,
    });
  });

  it('refuses to compress a matrix that breaks the pattern, naming it, and keeps nothing', async () => {
    const before = rt.ledger.bytesIn('weights');
    await expect(GpuModel.load(rt, dense, { compress: { format: 'nm', n: 2, m: 4 } })).rejects.toThrow(
      /^layers\.0\.q\.weight: /,
    );
    expect(rt.ledger.bytesIn('weights')).toBe(before);
  });
});
