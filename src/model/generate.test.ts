import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { freshSeed, Random } from '../kernels/random';
import { parseLlama2cTokenizer, type Tokenizer } from '../tokenizer';
import type { ModelConfig } from './config';
import { generate, type TokenEvent } from './generate';
import { GpuModel, type Residency } from './gpuModel';
import { KvCache } from './kvCache';
import { parseLlama2c, toHalfRope } from './llama2c';
import { referenceLogits } from './reference';
import { argmax, sampleToken } from './sampling';
import { randomTensors, STORIES260K_GREEDY, tinyConfig } from './testModels';
import { memoryWeightSource } from './weights';

// The logits of a cached step against the float64 reference forward on the whole prefix: the same
// bound as the full forward pass's (gpuModel.test.ts), 2e-4 of (1 + |logit|): f32 through a few
// layers. A key cached at the wrong row, a wrong position or a missing rope is off by O(1).
const LOGIT_BOUND = 2e-4;

const file = (name: string) => {
  const b = readFileSync(new URL(`../../public/models/stories260K/${name}`, import.meta.url));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};

/** Ids as text, one letter-digit group per id, for the tiny random models that have no tokenizer. */
function idTokenizer(vocabSize: number): Tokenizer {
  return {
    kind: 'ids',
    vocabSize,
    encode: (text) => text.split(' ').map(Number),
    decode: (ids) => ids.map((id) => `t${id} `).join(''),
  };
}

/** Greedy decoding by the full forward pass, recomputed over the whole prefix at every step. */
async function recomputedGreedy(model: GpuModel, prompt: number[], count: number, vocab: number) {
  const ids = [...prompt];
  const V = model.config.vocabSize;
  for (let i = 0; i < count; i++) {
    const logits = await model.logits(ids);
    ids.push(argmax(logits.subarray((ids.length - 1) * V, ids.length * V), vocab));
  }
  return ids.slice(prompt.length);
}

let rt: GpuRuntime;
let stories: { model: GpuModel; tokenizer: Tokenizer };
beforeAll(async () => {
  rt = await createNodeRuntime();
  const imported = toHalfRope(parseLlama2c('stories260K.bin', file('stories260K.bin')));
  stories = {
    model: await GpuModel.load(rt, memoryWeightSource(imported.config, imported.tensors, 'stories260K')),
    tokenizer: parseLlama2cTokenizer(file('tok512.bin'), 512),
  };
});
afterAll(() => {
  stories.model.destroy();
  rt.destroy();
});

const TINY: [string, ModelConfig, Residency?][] = [
  ['GPT-2', tinyConfig('gpt2')],
  ['OPT streamed block by block', tinyConfig('opt', { layers: 3 }), 'streaming'],
  ['OPT (positions offset by 2)', tinyConfig('opt')],
  ['Llama', tinyConfig('llama')],
  [
    'Llama with grouped-query attention and interleaved RoPE',
    tinyConfig('llama', { heads: 4, kvHeads: 2, headDim: 6, hidden: 24, ropeStyle: 'interleaved' }),
  ],
  // Heads wider than 32 take the materialised scores in the prefill and the online softmax after.
  ['Llama with 40-wide heads', tinyConfig('llama', { heads: 2, kvHeads: 1, headDim: 40, hidden: 24 })],
];

describe('generation with a KV cache', () => {
  for (const [name, base, residency] of TINY) {
    it(`${name}: greedy equals the full pass recomputed per token, and steps match the float64 reference`, async () => {
      // No EOS, so every run is as long as asked.
      const config = { ...base, eosId: null };
      const seed = freshSeed();
      const tensors = randomTensors(config, seed);
      const model = await GpuModel.load(rt, memoryWeightSource(config, tensors, 'random'), { residency });
      try {
        const random = new Random(seed);
        const prompt = Array.from({ length: 4 }, () => Math.floor(random.next() * config.vocabSize));
        const count = config.maxPositions - prompt.length;
        const result = await generate(model, idTokenizer(config.vocabSize), prompt, { maxNewTokens: count });
        expect(result.stopReason).toBe('max-tokens');
        expect(result.tokens, `seed ${seed}`).toEqual(
          await recomputedGreedy(model, prompt, count, config.vocabSize),
        );

        // Each cached step's logits against the reference on the whole prefix, at every position.
        const cache = await KvCache.create(rt, config, config.maxPositions);
        try {
          const ids = [...prompt];
          let logits = await model.extend(cache, ids);
          // The prefill is the scoring pass with its keys and values kept: the same kernels in the
          // same order, so the same bits as the full pass's last row.
          const V = config.vocabSize;
          expect(logits).toEqual((await model.logits(ids)).subarray((ids.length - 1) * V));
          for (const next of result.tokens.slice(0, -1)) {
            const ref = referenceLogits(config, tensors, ids).at(-1) as Float64Array;
            let worst = 0;
            for (const [i, r] of ref.entries())
              worst = Math.max(worst, Math.abs((logits[i] as number) - r) / (1 + Math.abs(r)));
            expect(worst, `position ${ids.length - 1}, seed ${seed}`).toBeLessThanOrEqual(LOGIT_BOUND);
            ids.push(next);
            logits = await model.extend(cache, [next]);
          }
        } finally {
          cache.destroy();
        }

        // A pass of several rows may continue a cache too: the prompt in two passes.
        const split = await KvCache.create(rt, config, prompt.length);
        try {
          await model.extend(split, prompt.slice(0, 1));
          const logits = await model.extend(split, prompt.slice(1));
          const ref = referenceLogits(config, tensors, prompt).at(-1) as Float64Array;
          let worst = 0;
          for (const [i, r] of ref.entries())
            worst = Math.max(worst, Math.abs((logits[i] as number) - r) / (1 + Math.abs(r)));
          expect(worst, `seed ${seed}`).toBeLessThanOrEqual(LOGIT_BOUND);
          await expect(model.extend(split, [1])).rejects.toThrow(/4 cached positions and 1 new ones exceed/);
        } finally {
          split.destroy();
        }
      } finally {
        model.destroy();
      }
    });
  }

  it('stories260K: greedy from BOS prints what llama2.c prints, and equals the recomputed greedy after a prompt', async () => {
    const { model, tokenizer } = stories;
    const ids = tokenizer.encode(STORIES260K_GREEDY, { addBos: true });
    const events: TokenEvent[] = [];
    const fromBos = await generate(model, tokenizer, '', { maxNewTokens: ids.length - 1 }, (e) =>
      events.push(e),
    );
    expect(fromBos.promptIds).toEqual([tokenizer.bosId]);
    expect(fromBos.tokens).toEqual(ids.slice(1));
    expect(fromBos.text).toBe(STORIES260K_GREEDY);
    // Streaming: one event per token, in order, whose pieces make the text.
    expect(events.map((e) => e.id)).toEqual(fromBos.tokens);
    expect(events.map((e) => e.index)).toEqual(fromBos.tokens.map((_, i) => i));
    expect(events.map((e) => e.text).join('')).toBe(fromBos.text);
    expect(events.every((e) => e.ms >= 0 && e.tokensPerSecond > 0)).toBe(true);
    expect(fromBos.prefill.tokens).toBe(1);
    expect(fromBos.decode.tokens).toBe(ids.length - 2);
    // One read-back per token through the model: the prompt's pass and each decode step.
    expect(fromBos.prefill.counters.readbacks).toBe(1);
    expect(fromBos.decode.counters.readbacks).toBe(ids.length - 2);

    const prompt = tokenizer.encode('One day, a big dog', { addBos: true });
    const after = await generate(model, tokenizer, prompt, { maxNewTokens: 24 });
    expect(after.tokens).toEqual(await recomputedGreedy(model, prompt, 24, tokenizer.vocabSize));
  });

  it('frees the cache, and counts it in the ledger while it runs', async () => {
    const { model, tokenizer } = stories;
    await generate(model, tokenizer, 'Once', { maxNewTokens: 2 });
    const before = rt.ledger.bytesIn('activations');
    let during = 0;
    await generate(model, tokenizer, 'Once', { maxNewTokens: 3 }, () => {
      during = Math.max(during, rt.ledger.bytesIn('activations'));
    });
    expect(during - before).toBeGreaterThanOrEqual(KvCache.bytes(model.config, 3));
    expect(rt.ledger.bytesIn('activations')).toBe(before);
  });
});

describe('sampling', () => {
  it('the same seed draws the same tokens; top-k = 1 is greedy', async () => {
    const { model, tokenizer } = stories;
    const options = { maxNewTokens: 12, temperature: 1, topK: 20 };
    const seed = freshSeed();
    const a = await generate(model, tokenizer, 'Once upon a time', { ...options, seed });
    const b = await generate(model, tokenizer, 'Once upon a time', { ...options, seed });
    expect(b.tokens, `seed ${seed}`).toEqual(a.tokens);
    expect(a.seed).toBe(seed);
    const greedy = await generate(model, tokenizer, 'Once upon a time', { maxNewTokens: 12 });
    const topOne = await generate(model, tokenizer, 'Once upon a time', {
      maxNewTokens: 12,
      temperature: 1.5,
      topK: 1,
      seed,
    });
    expect(topOne.tokens).toEqual(greedy.tokens);
  });

  it('draws only among the top k, by their probabilities', async () => {
    const { model, tokenizer } = stories;
    // A prompt's next-token distribution, and many one-token draws from it at temperature 1, top 5.
    const prompt = tokenizer.encode('Once upon a time, there was a', { addBos: true });
    const cache = await KvCache.create(rt, model.config, prompt.length);
    const logits = await model.extend(cache, prompt);
    cache.destroy();
    const order = Array.from(logits.keys()).sort((x, y) => (logits[y] as number) - (logits[x] as number));
    const top = order.slice(0, 5);
    const seed = freshSeed();
    const random = new Random(seed);
    const counts = new Map<number, number>();
    const draws = 4000;
    for (let i = 0; i < draws; i++) {
      const id = sampleToken(logits, { temperature: 1, topK: 5 }, random);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(
      [...counts.keys()].every((id) => top.includes(id)),
      `seed ${seed}`,
    ).toBe(true);
    // Each frequency within 5 standard deviations of its probability among the five.
    const max = logits[top[0] as number] as number;
    const weights = top.map((id) => Math.exp((logits[id] as number) - max));
    const total = weights.reduce((x, y) => x + y, 0);
    for (const [i, id] of top.entries()) {
      const p = (weights[i] as number) / total;
      const sd = Math.sqrt(draws * p * (1 - p) || 1);
      expect(Math.abs((counts.get(id) ?? 0) - draws * p), `token ${id}, seed ${seed}`).toBeLessThan(5 * sd);
    }
    // Temperature toward 0 concentrates the draws on the argmax.
    for (let i = 0; i < 50; i++)
      expect(sampleToken(logits, { temperature: 1e-4 }, random)).toBe(argmax(logits));
  });

  it('a stop token or a stop text ends the run; the text stops before the stop text', async () => {
    const { model, tokenizer } = stories;
    const full = await generate(model, tokenizer, '', { maxNewTokens: 20 });
    // Stop at the 9th new token of the greedy story, which ends the run where it first appears.
    const stopId = full.tokens[8] as number;
    const at = full.tokens.indexOf(stopId);
    const byId = await generate(model, tokenizer, '', { maxNewTokens: 20, stopIds: [stopId] });
    expect(byId.stopReason).toBe('stop-token');
    expect(byId.tokens).toEqual(full.tokens.slice(0, at + 1));

    const pieces: string[] = [];
    const byText = await generate(
      model,
      tokenizer,
      '',
      { maxNewTokens: 20, stopTexts: ['little girl'] },
      (e) => pieces.push(e.text),
    );
    expect(byText.stopReason).toBe('stop-text');
    expect(byText.text).toBe('Once upon a time, there was a ');
    // The streamed pieces never showed any part of the stop text.
    expect(pieces.join('')).toBe(byText.text);

    // EOS ends a run too: the tokenizer's, else the config's.
    const first = full.tokens[0] as number;
    const eosTokenizer: Tokenizer = {
      kind: tokenizer.kind,
      vocabSize: tokenizer.vocabSize,
      bosId: tokenizer.bosId,
      eosId: first,
      encode: (text, options) => tokenizer.encode(text, options),
      decode: (ids) => tokenizer.decode(ids),
    };
    const byEos = await generate(model, eosTokenizer, '', { maxNewTokens: 20 });
    expect(byEos).toMatchObject({ stopReason: 'stop-token', tokens: [first] });
  });

  it('cancels between tokens with the abort error, and refuses what cannot run', async () => {
    const { model, tokenizer } = stories;
    const before = rt.ledger.bytesIn('activations');
    const controller = new AbortController();
    const seen: number[] = [];
    const run = generate(
      model,
      tokenizer,
      'Once',
      { maxNewTokens: 30 },
      (e) => {
        seen.push(e.id);
        if (e.index === 1) controller.abort();
      },
      controller.signal,
    );
    await expect(run).rejects.toThrow(/abort/i);
    expect(seen).toHaveLength(2);
    expect(rt.ledger.bytesIn('activations')).toBe(before);

    const context = model.config.maxPositions;
    const long = new Array(context).fill(tokenizer.bosId);
    await expect(generate(model, tokenizer, long, { maxNewTokens: 1 })).rejects.toThrow(
      new RegExp(
        `the prompt's ${context} tokens and 1 new ones exceed the limit of ${context} tokens \\(the model's context\\)`,
      ),
    );
    await expect(
      generate(model, tokenizer, 'Once upon a time', { maxTokens: 8, maxNewTokens: 4 }),
    ).rejects.toThrow(/tokens and 4 new ones exceed the limit of 8 tokens: shorten the prompt/);
    await expect(generate(model, tokenizer, 'Once', { maxTokens: context + 1 })).rejects.toThrow(
      /token limit/,
    );
    await expect(generate(model, tokenizer, 'Once', { temperature: -1 })).rejects.toThrow(/temperature/);
    await expect(generate(model, tokenizer, 'Once', { topK: 0 })).rejects.toThrow(/top-k/);
    await expect(generate(model, tokenizer, 'Once', { maxNewTokens: 0 })).rejects.toThrow(/new tokens/);
    await expect(generate(model, tokenizer, '', { addBos: false })).rejects.toThrow(/no tokens/);
    await expect(generate(model, tokenizer, [1, 600])).rejects.toThrow(/token id 600 is outside/);
  });
});
