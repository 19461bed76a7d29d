import { afterAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { heldBytes } from '../gpu/testing';
import { ReacquiringRuntimes } from '../host/testRuntimes';
import { windowActivationBytes } from '../model/batch';
import { fitCheck } from '../model/fit';
import { GpuModel } from '../model/gpuModel';
import { randomTensors, tinyConfig } from '../model/testModels';
import { memoryWeightSource } from '../model/weights';
import { MAX_RESUMES } from './device';
import { EvalJob, type EvalJobHost, type EvalJobProgress } from './eval';
import { type EvalJobOptions, EvalOptionsError } from './evalOptions';

// The evaluation job survives a lost device: the device is destroyed after the fifth window is
// scored, and the job continues on a new device (uploading the model there from its weights, as the
// loaded model died with the old one) from the first window not yet finished. Every window's NLL sum
// and the perplexity must equal an uninterrupted run's bit for bit: a window's score does not depend
// on the device or the pass it is in, and the scores are summed in window order. The windows after
// the loss are scored once each, on the new device; the finished ones are not scored again.

const c = tinyConfig('llama', { layers: 2 });
const SEQ = 16;
const WINDOWS = 12;
const source = memoryWeightSource(c, randomTensors(c, 11), 'tiny');
const tokens = Array.from({ length: SEQ * WINDOWS + 5 }, (_, i) => 3 + ((i * 7919) % (c.vocabSize - 3)));
const OPTIONS: EvalJobOptions = { text: 'tinystories', seqLen: SEQ };

const runtimes = new ReacquiringRuntimes();
const acquire = runtimes.acquire;
afterAll(() => runtimes.destroyAll());

/** A memory budget that leaves, beside the weights, room for passes of `windows` windows. */
async function budgetFor(windows: number): Promise<number> {
  const fit = fitCheck(c, (await acquire()).limits, 2 ** 30, SEQ, source);
  return fit.peakResidentBytes - fit.activationBytes + windows * windowActivationBytes(c, SEQ);
}

async function host(progress: EvalJobProgress[], extra: Partial<EvalJobHost> = {}): Promise<EvalJobHost> {
  return {
    acquire,
    source,
    tokens: async () => tokens,
    // Three windows a pass, so the loss lands between passes of several windows.
    budgetBytes: await budgetFor(3),
    onProgress: (e) => progress.push(e),
    ...extra,
  };
}

const windowsDone = (events: EvalJobProgress[]) =>
  events.flatMap((e) => (e.type === 'window' ? [e.done] : []));

describe('the evaluation job after a lost device', () => {
  it('continues on a new device from the first unfinished window, with the uninterrupted NLLs bit for bit', async () => {
    const wholeJob = new EvalJob(await host([]), OPTIONS);
    const whole = await wholeJob.run();
    expect(whole.windows).toBe(WINDOWS);
    // The passes held several windows, so the loss below falls after a pass of three.
    expect(whole.windowsPerPass).toBe(3);

    // The host's loaded model, on the device that will be lost.
    const first = await acquire();
    const loaded = await GpuModel.load(first, source);
    const progress: EvalJobProgress[] = [];
    let destroyed = false;
    const job = new EvalJob(
      await host(progress, {
        loaded,
        onProgress: (e) => {
          progress.push(e);
          if (!destroyed && e.type === 'window' && e.done === 5) {
            destroyed = true;
            first.device.destroy();
          }
        },
      }),
      OPTIONS,
    );
    const before = runtimes.made.length;
    const result = await job.run();
    expect(destroyed).toBe(true);
    expect(runtimes.made.length).toBe(before + 1);
    expect(job.resumes).toBe(1);
    // The pass of windows 4–6 was scored before the loss was noticed: six windows are kept.
    const resumed = progress.filter((e) => e.type === 'resumed');
    expect(resumed).toEqual([{ type: 'resumed', done: 6, attempt: 1, message: expect.any(String) }]);
    // Every window reported once, and after the loss only the windows not yet finished.
    const at = progress.indexOf(resumed[0] as EvalJobProgress);
    expect(windowsDone(progress.slice(0, at))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(windowsDone(progress.slice(at))).toEqual([7, 8, 9, 10, 11, 12]);

    expect(job.scores).toEqual(wholeJob.scores);
    expect(job.scores).toHaveLength(WINDOWS);
    expect(result.windowPpl).toEqual(whole.windowPpl);
    expect(result.meanNll).toBe(whole.meanNll);
    expect(result.ppl).toBe(whole.ppl);
    expect(result.windows).toBe(WINDOWS);
    // The job's own copy on the new device is freed at the end; the host's model is the host's.
    expect(heldBytes(runtimes.current as GpuRuntime)).toBe(0);
    loaded.destroy();
  }, 240_000);

  it('gives up after MAX_RESUMES lost devices with the device’s error', async () => {
    const lost = new Set<GpuRuntime>();
    const job = new EvalJob(
      await host([], {
        // One window a pass: every device scores one window and is lost before its next pass.
        budgetBytes: await budgetFor(1),
        onProgress: (e) => {
          if (e.type === 'window' && runtimes.current && !lost.has(runtimes.current)) {
            lost.add(runtimes.current);
            runtimes.current.device.destroy();
          }
        },
      }),
      OPTIONS,
    );
    await expect(job.run()).rejects.toThrow(/lost|destroyed/i);
    expect(job.resumes).toBe(MAX_RESUMES);
    expect(lost.size).toBe(MAX_RESUMES + 1);
    expect(job.done).toBe(MAX_RESUMES + 1);
  }, 240_000);
});

describe('the evaluation job’s settings and cancel', () => {
  it('reports every bad setting keyed by its field, before the text is read', async () => {
    let read = false;
    const progress: EvalJobProgress[] = [];
    const tokensRead = async () => {
      read = true;
      return tokens;
    };
    const bad = new EvalJob(await host(progress, { tokens: tokensRead }), {
      text: 'shakespeare' as EvalJobOptions['text'],
      seqLen: 1,
      maxWindows: 0,
    });
    const error = await bad.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EvalOptionsError);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as EvalOptionsError).problems).toEqual({
      text: expect.stringMatching(/shakespeare.*tinystories/),
      seqLen: expect.stringMatching(/from 2 to the model's context of 16, got 1/),
      maxWindows: expect.stringMatching(/whole number ≥ 1, got 0/),
    });
    expect(read).toBe(false);
    expect(progress).toEqual([]);

    const long = new EvalJob(await host([], { tokens: tokensRead }), {
      ...OPTIONS,
      seqLen: 17,
      maxWindows: 2.5,
    });
    const longError = (await long.run().catch((e: unknown) => e)) as EvalOptionsError;
    expect(Object.keys(longError.problems).sort()).toEqual(['maxWindows', 'seqLen']);
    expect(read).toBe(false);

    // A text shorter than one window is the window's problem, found once the text is read.
    const short = new EvalJob(await host([], { tokens: async () => tokens.slice(0, SEQ - 1) }), OPTIONS);
    const shortError = (await short.run().catch((e: unknown) => e)) as EvalOptionsError;
    expect(shortError.problems).toEqual({
      seqLen: expect.stringMatching(/15 tokens, fewer than one window of 16/),
    });
  }, 60_000);

  it('stops between windows when cancelled, counting the windows done, its own copy freed', async () => {
    const controller = new AbortController();
    const progress: EvalJobProgress[] = [];
    const job = new EvalJob(
      await host(progress, {
        // One window a pass, so the cancel lands right after the window that asked for it.
        budgetBytes: await budgetFor(1),
        signal: controller.signal,
        onProgress: (e) => {
          progress.push(e);
          if (e.type === 'window' && e.done === 3) controller.abort(new Error('cancelled by the test'));
        },
      }),
      { ...OPTIONS, maxWindows: 8 },
    );
    await expect(job.run()).rejects.toThrow('cancelled by the test');
    expect(progress[0]).toMatchObject({ type: 'started', total: 8, tokensInText: tokens.length });
    expect(windowsDone(progress)).toEqual([1, 2, 3]);
    expect(job.done).toBe(3);
    expect(job.total).toBe(8);
    expect(job.resumes).toBe(0);
    expect(heldBytes(runtimes.current as GpuRuntime)).toBe(0);
  }, 60_000);
});
