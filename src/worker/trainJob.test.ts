import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuDeviceLostError, GpuOutOfMemoryError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { folderSiteFiles } from '../host/nodeFiles';
import { createNodeRuntime } from '../host/nodeGpu';
import type { LoadedModel } from '../jobs/load';
import { trainFailure } from '../jobs/trainFailure';
import { TrainRunStore } from '../jobs/trainRuns';
import { studioTrainOptions } from '../jobs/trainTesting';
import { bytesSource } from '../model/byteSource';
import { GpuModel } from '../model/gpuModel';
import { randomTensors, tinyConfig } from '../model/testModels';
import { canonicalTensors, memoryWeightSource } from '../model/weights';
import type { Tokenizer } from '../tokenizer';
import { type RankSample, TrainOutOfMemoryError } from '../train/job';
import { presetConfig } from '../train/modelPresets';
import type { SpectrumResult, TrainJobEvent, TrainJobOptions } from './api';
import { TrainControl } from './trainControl';
import { runTrain } from './trainJob';

// The training job as the worker runs it, on Dawn in Node: a nano preset from scratch over the
// shipped tok512 and TinyStories, paused, inspected and resumed, its arms kept and saved; a cancel
// that keeps what was trained; settings and texts refused with the engine's messages before any
// training; and the loaded model fine-tuned with its own tokenizer.

/** The site's files, from public/ as the dev server would serve them. */
const files = folderSiteFiles('public');

const OPTIONS = studioTrainOptions({
  model: { kind: 'preset', preset: 'nano', family: 'gpt2' },
  data: { kind: 'tinystories' },
  seqLen: 16,
  arms: [
    { id: 'adamw', variant: 'adamw', lr: 3e-3 },
    { id: 'no-m', variant: 'adapprox-no-m', lr: 3e-3 },
  ],
});

/** The files an arm is saved as, by name. */
async function savedNames(store: TrainRunStore, runId: string, arm: string) {
  return (await store.exportArm(runId, arm))?.map((f) => f.name).sort();
}

/** A saved arm's files: the model as Hugging Face's, its summary, and the tokenizer it was trained with. */
const savedFiles = (tokenizer: string) => ['config.json', 'model.safetensors', 'summary.json', tokenizer];

describe('the training job', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
  });
  afterAll(() => rt.destroy());

  function start(
    options: TrainJobOptions,
    on: (event: TrainJobEvent, control: TrainControl, abort: (reason?: unknown) => void) => void = () => {},
    loaded: LoadedModel | null = null,
  ) {
    const control = new TrainControl();
    const store = new TrainRunStore();
    const abort = new AbortController();
    const events: TrainJobEvent[] = [];
    const outcome = runTrain({
      options,
      acquire: async () => rt,
      loaded,
      loadedTokenizerFiles: loaded ? [bytesSource('tok.json', new TextEncoder().encode('{}'))] : [],
      files,
      store,
      control,
      emit: (event) => {
        events.push(event);
        on(event, control, (reason) => abort.abort(reason));
      },
      signal: abort.signal,
    });
    return { outcome, events, store };
  }

  it('trains a preset from scratch, pauses, answers an inspection on resuming, and keeps every arm', async () => {
    let inspection: Promise<SpectrumResult> | null = null;
    const { outcome, events, store } = start(OPTIONS, (event, control) => {
      const stepped =
        event.type === 'train' && event.events.some((e) => e.type === 'step' && e.arm === 'no-m');
      if (stepped && !inspection && !events.some((e) => e.type === 'paused')) control.setPaused(true);
      if (event.type === 'paused') {
        inspection = control.inspect('no-m', 'layers.0.up.weight');
        setTimeout(() => control.setPaused(false), 20);
      }
    });
    const end = await outcome;
    expect(end.type).toBe('finished');
    const types = events.map((e) => e.type).filter((t) => t !== 'train' && t !== 'memory');
    expect(types).toEqual(['preparing', 'prepared', 'paused', 'continued', 'kept', 'finished']);
    expect(events[1]).toMatchObject({ type: 'prepared', modelName: 'nano GPT-2 (from scratch)' });

    const spectrum = await (inspection as unknown as Promise<SpectrumResult>);
    if (!spectrum.ok) throw new Error(spectrum.message);
    expect(spectrum.spectrum).toMatchObject({
      arm: 'no-m',
      matrix: 'layers.0.up.weight',
      rows: 128,
      cols: 32,
    });
    expect(spectrum.spectrum.singularValues).toHaveLength(32);

    const kept = events.find((e) => e.type === 'kept');
    if (kept?.type !== 'kept') throw new Error('no kept event');
    expect(kept.run).toMatchObject({
      status: 'finished',
      weightsStep: 4,
      exportable: true,
      dataLabel: 'TinyStories (validation sample)',
    });
    expect(kept.heldRuns).toEqual([kept.run.id]);
    expect(kept.run.summary.arms.map((a) => a.steps)).toEqual([4, 4]);

    // Adapprox without M by docs/algorithms/adapprox.md §2: k(m + n) per factored matrix, a dense V for the vectors.
    const steps = events.flatMap((e) => (e.type === 'train' ? e.events : []));
    const last = steps.findLast((e) => e.type === 'step' && e.arm === 'no-m');
    if (last?.type !== 'step') throw new Error('no step');
    const ranks = new Map((last.ranks as RankSample[]).map((r) => [r.name, r.rank]));
    let floats = 0;
    for (const t of canonicalTensors(presetConfig('nano', 'gpt2', { size: 512, bosId: 1, eosId: 2 }))) {
      const [m, n] = t.shape.length === 2 ? (t.shape as [number, number]) : [1, t.shape[0] as number];
      floats += m === 1 ? n : (ranks.get(t.name) as number) * (m + n);
    }
    expect(kept.run.summary.arms[1]?.state.persistent).toBe(4 * floats);

    expect(await savedNames(store, kept.run.id, 'no-m')).toEqual(savedFiles('tok512.bin'));
    expect(rt.ledger.bytesIn('optimizer')).toBe(0);
  }, 300_000);

  it('keeps what a cancelled run trained', async () => {
    const { outcome, events, store } = start({ ...OPTIONS, steps: 50 }, (event, _control, abort) => {
      if (event.type === 'train' && event.events.some((e) => e.type === 'step')) abort();
    });
    const end = await outcome;
    expect(end.type).toBe('cancelled');
    const kept = events.find((e) => e.type === 'kept');
    if (kept?.type !== 'kept') throw new Error('no kept event');
    expect(kept.run.status).toBe('cancelled');
    expect(kept.run.weightsStep).toBeGreaterThanOrEqual(1);
    expect(kept.run.weightsStep).toBeLessThan(50);
    expect(await store.exportArm(kept.run.id, 'adamw')).not.toBeNull();
    expect(events.at(-1)).toEqual(end);
  }, 300_000);

  it('ends on a lost device with the weights of the last validation kept', async () => {
    let lost = false;
    const { outcome, events, store } = start({ ...OPTIONS, steps: 50 }, (event, _control, abort) => {
      const third = event.type === 'train' && event.events.some((e) => e.type === 'step' && e.step >= 3);
      if (third && !lost) {
        lost = true;
        // What the worker's slot does when the device goes: abort the job with the device's error.
        abort(new GpuDeviceLostError('unknown', 'test'));
      }
    });
    const end = await outcome;
    expect(end).toMatchObject({ type: 'error', kind: 'device-lost' });
    expect(end.type === 'error' && end.advice).toContain('weights at the last validation are kept');
    const kept = events.find((e) => e.type === 'kept');
    if (kept?.type !== 'kept') throw new Error('no kept event');
    // Events reach the page in batches, so the run may have taken a step or a validation more
    // before the loss: what it keeps is its last validation, whichever step that was.
    const validations = events
      .flatMap((e) => (e.type === 'train' ? e.events : []))
      .filter((e) => e.type === 'validation');
    const last = Math.max(...validations.map((e) => e.step));
    expect(last).toBeGreaterThanOrEqual(2);
    expect(kept.run).toMatchObject({ status: 'failed', weightsStep: last });
    for (const arm of kept.run.summary.arms) {
      expect(arm.steps).toBe(last);
      const atLast = validations.find((e) => e.type === 'validation' && e.arm === arm.id && e.step === last);
      expect(atLast?.type === 'validation' && atLast.loss).toBe(arm.finalValidationLoss);
      expect(arm.finalTrainLoss).not.toBeNull();
    }
    expect(await store.exportArm(kept.run.id, 'no-m')).not.toBeNull();
  }, 300_000);

  it('continues on a new device after device.destroy() and keeps what an uninterrupted run would', async () => {
    const options: TrainJobOptions = { ...OPTIONS, steps: 8 };
    const whole = start(options);
    expect((await whole.outcome).type).toBe('finished');
    const wholeKept = whole.events.find((e) => e.type === 'kept');
    if (wholeKept?.type !== 'kept') throw new Error('no kept event');

    let current = await createNodeRuntime();
    const created = [current];
    const control = new TrainControl();
    const store = new TrainRunStore();
    const events: TrainJobEvent[] = [];
    let lost = false;
    try {
      const outcome = await runTrain({
        options,
        acquire: async () => {
          if (current.isLost) {
            current = await createNodeRuntime();
            created.push(current);
          }
          return current;
        },
        loaded: null,
        loadedTokenizerFiles: [],
        files,
        store,
        control,
        emit: (event) => {
          events.push(event);
          // The batch that reports step 3 arrives after the checkpoint of step 2.
          const third = event.type === 'train' && event.events.some((e) => e.type === 'step' && e.step >= 3);
          if (third && !lost) {
            lost = true;
            current.device.destroy();
          }
        },
        signal: new AbortController().signal,
      });
      expect(outcome.type).toBe('finished');
      expect(created).toHaveLength(2);
      const resumed = events.find((e) => e.type === 'resumed');
      expect(resumed).toMatchObject({ type: 'resumed', attempt: 1 });
      if (resumed?.type === 'resumed') expect(resumed.step % 2).toBe(0);
      const kept = events.find((e) => e.type === 'kept');
      if (kept?.type !== 'kept') throw new Error('no kept event');
      expect(kept.run).toMatchObject({ status: 'finished', weightsStep: 8, resumes: 1 });
      for (const [i, arm] of kept.run.summary.arms.entries()) {
        const want = wholeKept.run.summary.arms[i];
        expect(arm.finalTrainLoss, arm.id).toBe(want?.finalTrainLoss);
        expect(arm.finalValidationLoss, arm.id).toBe(want?.finalValidationLoss);
        // The saved model's bytes are the uninterrupted run's.
        const got = (await store.exportArm(kept.run.id, arm.id))?.find((f) => f.name === 'model.safetensors');
        const exp = (await whole.store.exportArm(wholeKept.run.id, arm.id))?.find(
          (f) => f.name === 'model.safetensors',
        );
        expect(got?.data, arm.id).toEqual(exp?.data);
        expect(got?.data.byteLength).toBeGreaterThan(0);
      }
    } finally {
      for (const r of created) if (!r.isLost) r.destroy();
    }
  }, 300_000);

  it('refuses settings and texts with the engine’s message before training', async () => {
    const refused = async (options: TrainJobOptions) => {
      const { outcome, events } = start(options);
      const end = await outcome;
      expect(events.some((e) => e.type === 'kept')).toBe(false);
      return end;
    };
    expect(await refused({ ...OPTIONS, arms: [{ id: 'adamw', variant: 'adamw', lr: 5 }] })).toMatchObject({
      type: 'error',
      kind: 'range',
      message: 'the learning rate must lie in (0, 1], got 5',
    });
    expect(await refused({ ...OPTIONS, seqLen: 128 })).toMatchObject({
      kind: 'range',
      message: "a window of 128 tokens is longer than the model's context of 64",
    });
    expect(
      await refused({ ...OPTIONS, data: { kind: 'user', label: 'pasted text', text: 'To be.' } }),
    ).toMatchObject({
      kind: 'range',
      message: expect.stringContaining('shorter than one window of 16 tokens'),
      advice: 'Use a longer text, a shorter window or a smaller batch.',
    });
    expect(await refused({ ...OPTIONS, model: { kind: 'loaded' } })).toMatchObject({ kind: 'no-model' });

    const oom = new TrainOutOfMemoryError(new GpuOutOfMemoryError('w', 1024, 0, 'test'), {
      seqLen: 8,
      arms: 1,
    });
    expect(trainFailure(oom)).toMatchObject({
      kind: 'out-of-memory',
      message: expect.stringContaining('a window of 8 tokens'),
    });
  }, 120_000);

  it('fine-tunes the loaded model with its own tokenizer, saved beside the arm', async () => {
    const c = tinyConfig('llama', { layers: 1 });
    const tokenizer: Tokenizer = {
      kind: 'test',
      vocabSize: c.vocabSize,
      bosId: 1,
      encode: (text, o) => [
        ...(o?.addBos ? [1] : []),
        ...[...text].map((ch) => 3 + ((ch.codePointAt(0) ?? 0) % 34)),
      ],
      decode: () => '',
    };
    const model = await GpuModel.load(rt, memoryWeightSource(c, randomTensors(c, 5), 'tiny'));
    const loaded: LoadedModel = {
      model,
      tokenizer,
      summary: { name: 'tiny (test)' } as LoadedModel['summary'],
      budgetBytes: 2 ** 30,
      tokens: new Map(),
    };
    try {
      const { outcome, events, store } = start(
        {
          ...OPTIONS,
          model: { kind: 'loaded' },
          data: { kind: 'user', label: 'story.txt', text: 'Once upon a time there was a model. '.repeat(20) },
          seqLen: 8,
          steps: 2,
          arms: [{ id: 'adamw', variant: 'adamw', lr: 1e-3 }],
        },
        () => {},
        loaded,
      );
      expect((await outcome).type).toBe('finished');
      const kept = events.find((e) => e.type === 'kept');
      if (kept?.type !== 'kept') throw new Error('no kept event');
      expect(kept.run).toMatchObject({ modelName: 'tiny (test), fine-tuned', dataLabel: 'story.txt' });
      // The pasted text itself is not kept in the record.
      expect(kept.run.options.data).toEqual({ kind: 'user', label: 'story.txt', text: '' });
      expect(await savedNames(store, kept.run.id, 'adamw')).toEqual(savedFiles('tok.json'));
    } finally {
      model.destroy();
    }
  }, 120_000);
});
