import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { failAllocations, heldBytes } from '../gpu/testing';
import { createNodeRuntime } from '../host/nodeGpu';
import type { LoadedModel } from '../jobs/load';
import { randomTensors, tinyConfig } from '../model/testModels';
import { memoryWeightSource } from '../model/weights';
import type { EvalEvent, EvalOutcome } from './api';
import { EVAL_MEMORY_ADVICE, runEvaluation } from './evalJob';
import { pretokenizedTestModel } from './testing';

// The studio's evaluation runs out of GPU memory once, while it allocates a pass of several windows:
// it says so ('degraded'), frees the model's workspace and scores the windows again from the first,
// one per pass. A window's arithmetic does not depend on the pass it is in (the kernels treat a
// pass's rows alike) and the windows are summed in the same order, so the bound tested is zero: the
// perplexity and every window's are an undegraded run's bit for bit. A second failure ends the
// evaluation with the out-of-memory advice and leaves only the model's weights allocated.

const c = tinyConfig('llama', { layers: 2 });
const SEQ = 16;
const WINDOWS = 24;
const source = memoryWeightSource(c, randomTensors(c, 7), 'tiny');
const tokens = Array.from({ length: SEQ * WINDOWS }, (_, i) => 3 + ((i * 7919) % (c.vocabSize - 3)));

let rt: GpuRuntime;
const held = () => heldBytes(rt);
beforeAll(async () => {
  rt = await createNodeRuntime();
});
afterAll(() => rt.destroy());

/** The model loaded, with the text's tokens as the worker caches them after the first evaluation. */
function load(): Promise<LoadedModel> {
  return pretokenizedTestModel(rt, source, tokens);
}

async function evaluate(loaded: LoadedModel, events: EvalEvent[]): Promise<EvalOutcome> {
  return runEvaluation({
    acquire: async () => rt,
    loaded,
    options: { text: 'tinystories', seqLen: SEQ },
    fetchText: () => Promise.reject(new Error('the text is cached')),
    emit: (e) => events.push(e),
    signal: new AbortController().signal,
  });
}

/** One window's residual stream, in bytes: a larger one belongs to a pass of several windows. */
const ONE_WINDOW = 4 * SEQ * c.hidden;

/** The evaluation with `count` workspace allocations failing as out of memory: of a multi-window pass only, or any. */
async function evaluateFailing(
  loaded: LoadedModel,
  events: EvalEvent[],
  count: number,
  multiWindowOnly: boolean,
): Promise<EvalOutcome> {
  const restore = failAllocations(
    rt,
    count,
    (label, category, size) =>
      category === 'activations' && label === 'residual stream' && (!multiWindowOnly || size > ONE_WINDOW),
  );
  try {
    return await evaluate(loaded, events);
  } finally {
    restore();
  }
}

describe('the studio’s evaluation out of memory', () => {
  it('scores the windows again one per pass and ends with the undegraded perplexity, bit for bit', async () => {
    const loaded = await load();
    try {
      const whole = await evaluate(loaded, []);
      if (whole.type !== 'finished') throw new Error(`the undegraded run ended ${whole.type}`);
      // The undegraded run did take passes of several windows (the failure below needs one).
      expect(whole.result.windowsPerPass).toBeGreaterThan(1);
      loaded.model.releaseWorkspace();

      const events: EvalEvent[] = [];
      const outcome = await evaluateFailing(loaded, events, 1, true);
      if (outcome.type !== 'finished') throw new Error(`the degraded run ended ${outcome.type}`);
      const degraded = events.filter((e) => e.type === 'degraded');
      expect(degraded).toEqual([
        { type: 'degraded', message: expect.stringMatching(/injected by the test/) },
      ]);
      // Windows were scored before the failure; after it they start again from the first.
      const at = events.indexOf(degraded[0] as EvalEvent);
      expect(events.slice(0, at).some((e) => e.type === 'window')).toBe(true);
      const after = events.slice(at).flatMap((e) => (e.type === 'window' ? [e.done] : []));
      expect(after).toEqual(Array.from({ length: WINDOWS }, (_, i) => i + 1));
      expect(outcome.result.windowsPerPass).toBe(1);
      expect(outcome.result.windows).toBe(WINDOWS);
      expect(outcome.result.windowPpl).toEqual(whole.result.windowPpl);
      expect(outcome.result.ppl).toBe(whole.result.ppl);
    } finally {
      loaded.model.destroy();
    }
  }, 120_000);

  it('ends with the out-of-memory advice when memory runs out again, the model’s weights alone left', async () => {
    const loaded = await load();
    try {
      const weights = held();
      const events: EvalEvent[] = [];
      const outcome = await evaluateFailing(loaded, events, 2, false);
      expect(events.filter((e) => e.type === 'degraded')).toHaveLength(1);
      expect(outcome).toEqual({
        type: 'error',
        kind: 'out-of-memory',
        message: expect.stringMatching(/injected by the test.*again with one window per pass/),
        advice: EVAL_MEMORY_ADVICE,
      });
      expect(held()).toBe(weights);
    } finally {
      loaded.model.destroy();
    }
  }, 120_000);
});
