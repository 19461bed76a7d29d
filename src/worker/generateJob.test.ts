import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import type { LoadedModel } from '../jobs/load';
import { PruneRunStore } from '../jobs/pruneRuns';
import { bytesSource } from '../model/byteSource';
import { openModel } from '../model/checkpoint';
import { generate } from '../model/generate';
import { GpuModel } from '../model/gpuModel';
import { blockOperators } from '../model/weights';
import type { PruneSummary } from '../prune/events';
import { prunedWeightSource } from '../prune/job';
import { loadTokenizer } from '../tokenizer';
import { DENSE_MODEL, type GenerateJobEvent, type GenerateJobOptions, type PruneRun } from './api';
import { runGenerate } from './generateJob';

// The playground's job on stories260K: the loaded model and a pruned run continue one prompt in
// turn, and each continuation is what generate() gives for that model on its own.

const file = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../public/models/stories260K/${name}`, import.meta.url)));

let rt: GpuRuntime;
let loaded: LoadedModel;
const store = new PruneRunStore();
let pruned: Map<string, Float32Array>;
const RUN = 'run-halved';

beforeAll(async () => {
  rt = await createNodeRuntime();
  const opened = await openModel(
    ['config.json', 'model.safetensors', 'tok512.bin'].map((n) => bytesSource(n, file(n))),
  );
  const tokenizer = loadTokenizer([{ name: 'tok512.bin', data: file('tok512.bin').buffer as ArrayBuffer }], {
    vocabSize: opened.config.vocabSize,
  });
  loaded = {
    model: await GpuModel.load(rt, opened.weights),
    tokenizer,
    summary: { name: 'stories260K' } as LoadedModel['summary'],
    budgetBytes: 2 ** 30,
    tokens: new Map(),
  };
  // A stand-in for a pruning run: every other weight of every block matrix zeroed.
  pruned = new Map();
  for (let l = 0; l < opened.config.layers; l++)
    for (const op of blockOperators(opened.config)) {
      const name = `layers.${l}.${op}.weight`;
      pruned.set(
        name,
        (await opened.weights.read(name)).map((v, i) => (i % 2 ? 0 : v)),
      );
    }
  // Every other weight of a row is zero, so each group of 4 keeps 2: a 2:4 pattern.
  const summary = { blocks: [], options: { pattern: { kind: 'nm', n: 2, m: 4 } } } as unknown as PruneSummary;
  const run = { id: RUN, summary } as PruneRun;
  await store.add(run, pruned, opened.weights, []);
});
afterAll(() => {
  loaded.model.destroy();
  rt.destroy();
});

const OPTIONS: GenerateJobOptions = {
  prompt: 'Once upon a time',
  models: [DENSE_MODEL, RUN],
  maxNewTokens: 6,
  temperature: 0.8,
  topK: 8,
  seed: 5,
  sparseKernels: false,
};

function run(options: GenerateJobOptions, events: GenerateJobEvent[], signal = new AbortController().signal) {
  return runGenerate({ rt, loaded, store, options, emit: (e) => events.push(e), signal });
}

describe('the generation job', () => {
  it('continues the prompt with each model in turn, as generate() does for that model alone', async () => {
    const events: GenerateJobEvent[] = [];
    expect(await run(OPTIONS, events)).toEqual({ type: 'finished' });
    const order = events
      .filter((e) => e.type !== 'token')
      .map((e) => ('model' in e ? `${e.type} ${e.model}` : e.type));
    expect(order).toEqual([
      `model-started ${DENSE_MODEL}`,
      `model-finished ${DENSE_MODEL}`,
      `model-started ${RUN}`,
      `model-finished ${RUN}`,
      'finished',
    ]);

    const sampling = { maxNewTokens: 6, temperature: 0.8, topK: 8, seed: 5 };
    const dense = await generate(loaded.model, loaded.tokenizer, OPTIONS.prompt, sampling);
    const halved = await GpuModel.load(rt, prunedWeightSource(loaded.model.source, pruned));
    const want = await generate(halved, loaded.tokenizer, OPTIONS.prompt, sampling);
    halved.destroy();
    const finished = events.flatMap((e) => (e.type === 'model-finished' ? [e] : []));
    expect(finished.map((e) => e.result.text)).toEqual([dense.text, want.text]);
    expect(dense.text).not.toEqual(want.text);
    for (const e of finished) {
      const pieces = events.flatMap((x) => (x.type === 'token' && x.model === e.model ? [x.text] : []));
      expect(pieces.join('')).toBe(e.result.text);
      expect(e.result.tokens).toBe(pieces.length);
      // Both hold the same f32 matrices (a zero takes its 4 bytes too).
      expect(e.result.weightBytes).toBe(finished[0]?.result.weightBytes);
      expect(e.result.weightBytes).toBeGreaterThan(4 * 200_000);
    }
  });

  it('runs a pruned model compressed in its pattern with the sparse kernels: fewer bytes, the same greedy text', async () => {
    const greedy = { ...OPTIONS, models: [RUN], temperature: 0 };
    const stored: GenerateJobEvent[] = [];
    const sparse: GenerateJobEvent[] = [];
    expect(await run(greedy, stored)).toEqual({ type: 'finished' });
    expect(await run({ ...greedy, sparseKernels: true }, sparse)).toEqual({ type: 'finished' });
    const resultOf = (events: GenerateJobEvent[]) => {
      const e = events.find((x) => x.type === 'model-finished');
      if (e?.type !== 'model-finished') throw new Error('no model finished');
      return e.result;
    };
    const a = resultOf(stored);
    const b = resultOf(sparse);
    expect([a.compressed, b.compressed]).toEqual([null, 'nm']);
    expect(b.text).toBe(a.text);
    // 2:4 keeps 8.5 of 16 bytes per group of 4 in the block matrices; the rest is as dense.
    expect(b.weightBytes).toBeLessThan(a.weightBytes);
  });

  it('refuses a run whose weights are not held before any model starts', async () => {
    const events: GenerateJobEvent[] = [];
    const outcome = await run({ ...OPTIONS, models: [DENSE_MODEL, 'run-gone'] }, events);
    expect(outcome).toMatchObject({ type: 'error', kind: 'range' });
    if (outcome.type === 'error') expect(outcome.message).toMatch(/run-gone are no longer held/);
    expect(events.some((e) => e.type === 'model-started')).toBe(false);
  });

  it('stops between tokens when cancelled', async () => {
    const controller = new AbortController();
    const events: GenerateJobEvent[] = [];
    const outcome = await runGenerate({
      rt,
      loaded,
      store,
      options: OPTIONS,
      emit: (e) => {
        events.push(e);
        if (e.type === 'token') controller.abort();
      },
      signal: controller.signal,
    });
    expect(outcome).toEqual({ type: 'cancelled' });
    expect(events.filter((e) => e.type === 'token')).toHaveLength(1);
  });
});
