import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { folderSources } from '../host/nodeFiles';
import { createNodeRuntime } from '../host/nodeGpu';
import { projectRoot } from '../host/projectRoot';
import { type ByteSource, bytesSource, ModelFormatError } from '../model/byteSource';
import { tensorBytes, tensorStorage } from '../model/weightStorage';
import { canonicalTensors } from '../model/weights';
import { checkFit, type InspectedModel, inspectFiles, runModelLoad } from './load';
import { modelFailure } from './loadFailure';
import type { LoadPhase, ModelLoadEvent } from './loadTypes';

// The load job on Dawn in Node, over the built-in model's files as the CLI hands them over (paths
// on disk) and as a host holds them in memory: the events a host relies on (phases in order per
// tensor, bytes up to a total known at the start, one outcome), a cancel between tensors that gives
// back every byte it allocated, broken files as failure values that name the file, with advice, and
// the fit check's refusal of a model over the device's limits.

const MODEL = join(projectRoot(), 'public/models/stories260K');
const file = (name: string) => new Uint8Array(readFileSync(join(MODEL, name)));
const OPTIONS = { budgetBytes: 2 ** 30, seqLen: 512 };

let rt: GpuRuntime;
beforeAll(async () => {
  rt = await createNodeRuntime();
});
afterAll(() => rt.destroy());

const nonMemory = (events: ModelLoadEvent[]) => events.filter((e) => e.type !== 'memory');

/** Every tensor's bytes on the GPU (stories260K is f32 and resident), in the order they load. */
function plannedBytes(inspected: InspectedModel): [string, number][] {
  const { config } = inspected.opened;
  return canonicalTensors(config).map((t) => [
    t.name,
    tensorBytes(t, tensorStorage(inspected.opened.weights, t)),
  ]);
}

async function load(
  inspected: InspectedModel,
  options = OPTIONS,
  onEvent: (event: ModelLoadEvent, controller: AbortController) => void = () => {},
) {
  const events: ModelLoadEvent[] = [];
  const controller = new AbortController();
  let dropped = 0;
  const result = await runModelLoad({
    rt,
    inspected,
    options,
    emit: (e) => {
      events.push(e);
      onEvent(e, controller);
    },
    signal: controller.signal,
    dropPrevious: () => dropped++,
    // Every phase change is sent, so the order can be checked tensor by tensor.
    progressMs: 0,
  });
  return { ...result, events, dropped };
}

describe('loading stories260K', () => {
  it('goes read, parse, upload for each tensor in order, with bytes that end at the total known at the start', async () => {
    const inspected = await inspectFiles('stories260K', await folderSources(MODEL));
    expect(inspected.summary).toMatchObject({
      name: 'stories260K',
      layers: 5,
      tokenizerFiles: ['tok512.bin'],
    });
    const before = rt.ledger.snapshot().liveBytes;
    const { outcome, loaded, events, dropped } = await load(inspected);
    const planned = plannedBytes(inspected);
    const total = planned.reduce((s, [, b]) => s + b, 0);
    expect(total).toBe(inspected.summary.weightBytes);
    try {
      expect(dropped).toBe(1);
      const seen = nonMemory(events);
      expect(seen[0]).toMatchObject({
        type: 'started',
        residency: 'resident',
        bytesTotal: total,
        verdict: 'fits',
      });
      expect(seen.at(-1)).toEqual(outcome);
      expect(outcome).toMatchObject({ type: 'loaded', residency: 'resident', bytesUploaded: total });
      expect(seen.filter((e) => ['loaded', 'cancelled', 'error'].includes(e.type))).toHaveLength(1);

      const progress = seen.filter((e) => e.type === 'progress');
      // Consecutive events of one tensor and phase collapsed: read, parse, upload for each, in order.
      const steps: [string, LoadPhase, number][] = [];
      for (const p of progress) {
        const last = steps.at(-1);
        if (!last || last[0] !== p.item || last[1] !== p.phase) steps.push([p.item, p.phase, p.bytesDone]);
      }
      const end = steps.pop();
      expect(end).toEqual(['', 'upload', total]);
      let done = 0;
      const expected: [string, LoadPhase, number][] = [];
      for (const [name, bytes] of planned) {
        for (const phase of ['read', 'parse', 'upload'] as const) expected.push([name, phase, done]);
        done += bytes;
      }
      expect(steps).toEqual(expected);
      for (let i = 1; i < progress.length; i++)
        expect(progress[i]?.bytesDone).toBeGreaterThanOrEqual(progress[i - 1]?.bytesDone as number);
      expect(progress.every((p) => p.bytesTotal === total)).toBe(true);
      expect(progress.at(-1)?.etaMs).toBe(0);
      expect(rt.ledger.snapshot().liveBytes - before).toBe(total);
      expect(loaded?.tokenizer.kind).toBe('llama2c');
    } finally {
      loaded?.model.destroy();
    }
    expect(rt.ledger.snapshot().liveBytes).toBe(before);
  });

  it('stops between tensors when cancelled, ending cancelled with every allocated byte given back', async () => {
    const inspected = await inspectFiles('stories260K', await folderSources(MODEL));
    const planned = plannedBytes(inspected);
    const before = rt.ledger.snapshot();
    // Cancelled once the third tensor is on the GPU: two are counted done, three are held.
    const third = planned[2]?.[0];
    let heldAtCancel = 0;
    const { outcome, loaded, events } = await load(inspected, OPTIONS, (e, controller) => {
      if (e.type === 'progress' && e.phase === 'upload' && e.item === third && !controller.signal.aborted) {
        heldAtCancel = rt.ledger.snapshot().liveBytes - before.liveBytes;
        controller.abort();
      }
    });
    expect(loaded).toBeUndefined();
    const total = planned.reduce((s, [, b]) => s + b, 0);
    const firstTwo = (planned[0]?.[1] as number) + (planned[1]?.[1] as number);
    expect(heldAtCancel).toBe(firstTwo + (planned[2]?.[1] as number));
    expect(outcome).toEqual({ type: 'cancelled', bytesDone: firstTwo, bytesTotal: total });
    // No tensor after the third was read.
    const items = new Set(events.flatMap((e) => (e.type === 'progress' ? [e.item] : [])));
    expect(items.has(planned[3]?.[0] as string)).toBe(false);
    expect(nonMemory(events).at(-1)).toEqual(outcome);
    const after = rt.ledger.snapshot();
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.liveBuffers).toBe(before.liveBuffers);
  });
});

describe('broken files', () => {
  const config = () => bytesSource('stories260K/config.json', file('config.json').slice().buffer);
  const tokenizer = () => bytesSource('stories260K/tok512.bin', file('tok512.bin').slice().buffer);

  it('names a truncated safetensors file, as a model-format failure with advice', async () => {
    const weights = file('model.safetensors');
    const cut = bytesSource('stories260K/model.safetensors', weights.slice(0, weights.length >> 1).buffer);
    const failure = await inspectFiles('cut', [config(), cut, tokenizer()]).then(() => null, modelFailure);
    expect(failure).toMatchObject({ ok: false, kind: 'model-format' });
    expect(failure?.message).toMatch(/model\.safetensors.*truncated/);
    expect(failure?.advice).toMatch(/complete/);
  });

  it('names config.json and the field whose shape the tensors disagree with', async () => {
    const json = JSON.parse(new TextDecoder().decode(file('config.json')));
    const edited = new TextEncoder().encode(JSON.stringify({ ...json, intermediate_size: 48 }));
    const weights = bytesSource('stories260K/model.safetensors', file('model.safetensors').slice().buffer);
    const failure = await inspectFiles('edited', [
      bytesSource('stories260K/config.json', edited.buffer),
      weights,
      tokenizer(),
    ]).then(() => null, modelFailure);
    expect(failure).toMatchObject({ ok: false, kind: 'model-format' });
    expect(failure?.message).toMatch(
      /config\.json: intermediate_size = 48 does not match the checkpoint \(model\.safetensors\)/,
    );
    expect(failure?.advice).toMatch(/complete/);
  });

  it('ends a load whose file breaks off mid-way in a failure naming it, with nothing left allocated', async () => {
    const weights = file('model.safetensors');
    const half = weights.length >> 1;
    // The headers read fine; the data past the middle is gone, as when a file shrinks after opening.
    const shrinking: ByteSource = {
      name: 'stories260K/model.safetensors',
      size: weights.length,
      async read(offset, length) {
        if (offset + length > half)
          throw new ModelFormatError('model.safetensors', `ended early at byte ${half}`);
        return weights.slice(offset, offset + length).buffer;
      },
    };
    const inspected = await inspectFiles('shrinking', [config(), shrinking, tokenizer()]);
    const before = rt.ledger.snapshot().liveBytes;
    const { outcome, loaded } = await load(inspected);
    expect(loaded).toBeUndefined();
    expect(outcome).toMatchObject({
      type: 'error',
      kind: 'model-format',
      message: expect.stringMatching(/^model\.safetensors: ended early/),
      advice: expect.stringMatching(/complete/),
    });
    expect(rt.ledger.snapshot().liveBytes).toBe(before);
  });
});

describe('the fit check', () => {
  it('refuses a model over a small buffer limit, naming the tensor, before anything is dropped or allocated', async () => {
    const small = await createNodeRuntime({
      capLimits: { maxBufferSize: 64 * 1024, maxStorageBufferBindingSize: 64 * 1024 },
    });
    try {
      const inspected = await inspectFiles('stories260K', await folderSources(MODEL));
      const answer = checkFit(small, inspected.opened.config, OPTIONS, inspected.opened.weights);
      expect(answer.fit.verdict).toBe('does not fit');
      expect(answer.limits.maxBufferSize).toBe(64 * 1024);
      const events: ModelLoadEvent[] = [];
      let dropped = false;
      const { outcome, loaded } = await runModelLoad({
        rt: small,
        inspected,
        options: OPTIONS,
        emit: (e) => events.push(e),
        signal: new AbortController().signal,
        dropPrevious: () => {
          dropped = true;
        },
      });
      expect(loaded).toBeUndefined();
      expect(outcome).toMatchObject({ type: 'error', kind: 'does-not-fit' });
      expect(outcome.type === 'error' && outcome.message).toMatch(
        /^stories260K does not fit: tensor tok_embeddings needs 128\.0 KiB, above this GPU's largest buffer \(64\.0 KiB\)/,
      );
      expect(outcome.type === 'error' && outcome.advice).toMatch(/memory budget/);
      expect(dropped).toBe(false);
      expect(events.some((e) => e.type === 'started' || e.type === 'progress')).toBe(false);
      expect(small.ledger.snapshot().liveBytes).toBe(0);
    } finally {
      small.destroy();
    }
  });

  it('says the model fits block by block under a budget below its weights, and not at all under one below a block', async () => {
    const inspected = await inspectFiles('stories260K', await folderSources(MODEL));
    const { config, weights } = inspected.opened;
    const whole = checkFit(rt, config, OPTIONS, weights).fit;
    const streaming = checkFit(
      rt,
      config,
      { budgetBytes: whole.peakStreamingBytes, seqLen: 512 },
      weights,
    ).fit;
    expect(streaming.verdict).toBe('fits block by block');
    const none = checkFit(rt, config, { budgetBytes: 1024, seqLen: 512 }, weights).fit;
    expect(none.verdict).toBe('does not fit');
    expect(none.reasons.join()).toMatch(/above the 1\.00 KiB budget/);
    expect(() => checkFit(rt, config, { budgetBytes: 0, seqLen: 512 }, weights)).toThrow(RangeError);
    expect(() => checkFit(rt, config, { budgetBytes: 2 ** 30, seqLen: 513 }, weights)).toThrow(
      /outside 2\.\.512/,
    );
  });
});
