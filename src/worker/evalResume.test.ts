import { afterAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { heldBytes } from '../gpu/testing';
import { ReacquiringRuntimes } from '../host/testRuntimes';
import type { LoadedModel } from '../jobs/load';
import { randomTensors, tinyConfig } from '../model/testModels';
import { memoryWeightSource } from '../model/weights';
import type { EvalEvent, EvalOutcome } from './api';
import { runEvaluation } from './evalJob';
import { pretokenizedTestModel } from './testing';

// The studio's evaluation survives a lost device: the loaded model dies with it, the job uploads its
// own copy to the new device the worker's slot hands out, and continues at the first window not yet
// scored. The page gets a 'resumed' event and then only the windows after it, and the perplexity is
// an uninterrupted run's bit for bit. Studio passes start at one window (the cancel's passMs), so the
// loss after the first window falls between passes.

const c = tinyConfig('llama', { layers: 2 });
const SEQ = 16;
const WINDOWS = 10;
const source = memoryWeightSource(c, randomTensors(c, 9), 'tiny');
const tokens = Array.from({ length: SEQ * WINDOWS }, (_, i) => 3 + ((i * 104729) % (c.vocabSize - 3)));

const runtimes = new ReacquiringRuntimes();
const acquire = runtimes.acquire;
afterAll(() => runtimes.destroyAll());

async function evaluate(loaded: LoadedModel, emit: (e: EvalEvent) => void): Promise<EvalOutcome> {
  return runEvaluation({
    acquire,
    loaded,
    options: { text: 'tinystories', seqLen: SEQ },
    fetchText: () => Promise.reject(new Error('the text is cached')),
    emit,
    signal: new AbortController().signal,
  });
}

describe('the studio’s evaluation after a lost device', () => {
  it('continues on a new device after the finished windows, with the uninterrupted perplexity', async () => {
    const first = await acquire();
    const loaded = await pretokenizedTestModel(first, source, tokens);
    const whole = await evaluate(loaded, () => {});
    if (whole.type !== 'finished') throw new Error(`the uninterrupted run ended ${whole.type}`);

    const events: EvalEvent[] = [];
    const outcome = await evaluate(loaded, (e) => {
      events.push(e);
      if (e.type === 'window' && e.done === 1) first.device.destroy();
    });
    if (outcome.type !== 'finished') throw new Error(`the resumed run ended ${outcome.type}`);
    expect(runtimes.made).toHaveLength(2);
    const resumed = events.filter((e) => e.type === 'resumed');
    expect(resumed).toEqual([{ type: 'resumed', done: 1, attempt: 1, message: expect.any(String) }]);
    const at = events.indexOf(resumed[0] as EvalEvent);
    const windows = (from: number, to?: number) =>
      events.slice(from, to).flatMap((e) => (e.type === 'window' ? [e.done] : []));
    expect(windows(0, at)).toEqual([1]);
    expect(windows(at)).toEqual(Array.from({ length: WINDOWS - 1 }, (_, i) => i + 2));
    expect(outcome.result.windowPpl).toEqual(whole.result.windowPpl);
    expect(outcome.result.ppl).toBe(whole.result.ppl);
    // The memory shown after the loss is the new device's (the lost one's ledger reads otherwise),
    // and the job's own copy there is freed at the end.
    const now = (runtimes.current as GpuRuntime).ledger.snapshot();
    expect(first.ledger.snapshot().liveBytes).not.toBe(now.liveBytes);
    expect(events.at(-2)).toEqual({ type: 'memory', liveBytes: now.liveBytes, peakBytes: now.peakBytes });
    expect(heldBytes(runtimes.current as GpuRuntime)).toBe(0);
  }, 120_000);
});
