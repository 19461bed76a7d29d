import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryDirectory, MemoryFile, MemoryLocks } from '../cache/opfsTesting';
import { PRUNED_DIRECTORY, PrunedOpfs } from '../cache/prunedOnOpfs';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import type { LoadedModel } from '../jobs/load';
import { PruneRunStore } from '../jobs/pruneRuns';
import { randomTensors, tinyConfig } from '../model/testModels';
import { memoryWeightSource } from '../model/weights';
import type { PruneEvent } from '../prune/events';
import { PAPER_FISTA, PAPER_SPARSEGPT, type PruneOptions } from '../prune/options';
import { characterTokenizer } from '../tokenizer/testing';
import type { PruneJobEvent, PruneJobOptions } from './api';
import { runPrune } from './pruneJob';
import { loadedTestModel } from './testing';

const c = tinyConfig('llama', { layers: 3 });

const tokenizer = characterTokenizer(c.vocabSize);

const TEXT = 'Once upon a time a small model was pruned, and it still told stories. '.repeat(20);

function pruneOptions(overrides: Partial<PruneOptions> = {}): PruneOptions {
  return {
    method: 'fista',
    pattern: { kind: 'nm', n: 2, m: 4 },
    calibration: { source: { kind: 'text', text: TEXT, label: 'test text' }, windows: 4, seqLen: 8, seed: 3 },
    fista: { ...PAPER_FISTA, iterations: 6, rounds: 2, warmStart: 'wanda' },
    sparsegpt: { ...PAPER_SPARSEGPT },
    blockInputs: 'dense',
    ...overrides,
  };
}

const EVALUATION: PruneJobOptions['evaluation'] = { text: 'tinystories', seqLen: 8, maxWindows: 2 };

describe('the pruning job', () => {
  let rt: GpuRuntime;
  let loaded: LoadedModel;
  const source = memoryWeightSource(c, randomTensors(c, 11), 'tiny');

  beforeAll(async () => {
    rt = await createNodeRuntime();
    loaded = await loadedTestModel(rt, source, tokenizer);
  });
  afterAll(() => {
    loaded.model.destroy();
    rt.destroy();
  });

  function job(store: PruneRunStore, options: PruneJobOptions, events: PruneJobEvent[], extra = {}) {
    return {
      loaded,
      options,
      acquire: async () => rt,
      createRuntime: createNodeRuntime,
      cores: 4,
      fetchText: async () => TEXT,
      fetchFile: async () => TEXT,
      store,
      tokenizerFiles: [],
      emit: (e: PruneJobEvent) => events.push(e),
      signal: new AbortController().signal,
      ...extra,
    };
  }

  it('calibrates, measures before, prunes, measures after, keeps masks; the dense number is cached', async () => {
    const store = new PruneRunStore();
    const events: PruneJobEvent[] = [];
    const outcome = await runPrune(job(store, { prune: pruneOptions(), evaluation: EVALUATION }, events));
    expect(outcome.type).toBe('finished');
    if (outcome.type !== 'finished') return;
    const { run } = outcome;
    expect(run.summary.sparsity).toBe(0.5);
    expect(run.windows).toBe(2);
    expect(Number.isFinite(run.pplBefore)).toBe(true);
    expect(Number.isFinite(run.pplAfter)).toBe(true);
    expect(run.pplAfter).not.toBe(run.pplBefore);
    expect(run.exportable).toBe(true);

    const types = events.map((e) => e.type).filter((t) => t !== 'memory' && t !== 'perplexity-window');
    expect(types.slice(0, 3)).toEqual(['calibrating', 'calibrated', 'perplexity-started']);
    expect(types.at(-1)).toBe('finished');
    const engine = events.flatMap((e) => (e.type === 'prune' ? e.events : []));
    const count = (type: PruneEvent['type']) => engine.filter((e) => e.type === type).length;
    expect(count('block-finished')).toBe(3);
    expect(count('operator-finished')).toBe(3 * 7);
    // One event per λ round, each with its whole objective series (K + 1 objectives, the start included).
    expect(count('lambda-round')).toBe(3 * 7 * 2);
    for (const e of engine)
      if (e.type === 'lambda-round') expect(e.objective.x, e.objective.name).toEqual([0, 1, 2, 3, 4, 5, 6]);

    // A mask bit per weight, 2 of every 4 set.
    for (const block of run.summary.blocks)
      for (const m of block.matrices) {
        const mask = store.mask(run.id, m.tensor);
        expect(mask, m.tensor).toBeDefined();
        let kept = 0;
        for (let i = 0; i < m.rows * m.cols; i++) kept += ((mask?.bits[i >> 3] ?? 0) >> (i & 7)) & 1;
        expect(kept, m.tensor).toBe((m.rows * m.cols) / 2);
      }

    const second: PruneJobEvent[] = [];
    const again = await runPrune(
      job(
        store,
        { prune: pruneOptions({ method: 'magnitude', blockInputs: 'pruned' }), evaluation: EVALUATION },
        second,
      ),
    );
    expect(again.type).toBe('finished');
    expect(second.find((e) => e.type === 'perplexity-started')).toMatchObject({
      stage: 'before',
      cached: true,
    });
    if (again.type === 'finished') expect(again.run.pplBefore).toBe(run.pplBefore);
    const files = await store.exportFiles(run.id);
    expect(files?.map((f) => f.name)).toEqual(['model.safetensors', 'config.json', 'summary.json']);
  });

  it('continues on a new device from the last finished block, with the same weights', async () => {
    const store = new PruneRunStore();
    // A block takes seconds on SwiftShader, far longer than the 100 ms an event batch waits.
    const options: PruneJobOptions = { prune: pruneOptions(), evaluation: null };
    const whole = await runPrune(job(store, options, []));
    expect(whole.type).toBe('finished');

    let current = await createNodeRuntime();
    const created = [current];
    const events: PruneJobEvent[] = [];
    let lost = false;
    const outcome = await runPrune(
      job(store, options, events, {
        acquire: async () => {
          if (current.isLost) {
            current = await createNodeRuntime();
            created.push(current);
          }
          return current;
        },
        emit: (e: PruneJobEvent) => {
          events.push(e);
          // The batch that reports block 0 done arrives while block 1 is being pruned.
          if (!lost && e.type === 'prune' && e.events.some((x) => x.type === 'block-finished')) {
            lost = true;
            current.device.destroy();
          }
        },
      }),
    );
    try {
      expect(outcome.type).toBe('finished');
      const resumed = events.find((e) => e.type === 'resumed');
      expect(resumed).toMatchObject({ stage: 'prune', attempt: 1 });
      if (resumed?.type === 'resumed') expect(resumed.block).toBeGreaterThanOrEqual(1);
      expect(created).toHaveLength(2);
      if (outcome.type === 'finished' && whole.type === 'finished') {
        expect(outcome.run.resumes).toBe(1);
        expect(outcome.run.summary.blocks.map((b) => b.block)).toEqual([0, 1, 2]);
        for (const block of whole.run.summary.blocks)
          for (const m of block.matrices)
            expect(store.mask(outcome.run.id, m.tensor)?.bits, m.tensor).toEqual(
              store.mask(whole.run.id, m.tensor)?.bits,
            );
      }
    } finally {
      for (const r of created) if (!r.isLost) r.destroy();
    }
  });

  it('reports a bad setting as a range error before any work, and a cancel as cancelled', async () => {
    const store = new PruneRunStore();
    const events: PruneJobEvent[] = [];
    const bad = await runPrune(
      job(
        store,
        { prune: pruneOptions({ pattern: { kind: 'nm', n: 2, m: 8 } }), evaluation: EVALUATION },
        events,
      ),
    );
    expect(bad).toMatchObject({ type: 'error', kind: 'range' });
    if (bad.type === 'error') expect(bad.message).toMatch(/M = 8 does not divide/);
    expect(events.some((e) => e.type === 'perplexity-started')).toBe(false);

    const controller = new AbortController();
    const cancelled = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null }, [], {
        signal: controller.signal,
        emit: (e: PruneJobEvent) => {
          if (e.type === 'prune' && e.events.some((x) => x.type === 'operator-finished')) controller.abort();
        },
      }),
    );
    expect(cancelled).toEqual({ type: 'cancelled', stage: 'prune' });
    expect(store.list()).toHaveLength(0);
  });

  /** Extra runtimes made for a job, and which of them were destroyed. */
  function extraRuntimes() {
    const made: GpuRuntime[] = [];
    const destroyed = new Set<GpuRuntime>();
    const createRuntime = async () => {
      const extra = await createNodeRuntime();
      const destroy = extra.destroy.bind(extra);
      extra.destroy = () => {
        destroyed.add(extra);
        destroy();
      };
      made.push(extra);
      return extra;
    };
    return { made, destroyed, createRuntime };
  }

  it('prunes on 2 devices into the same weights as on 1, and destroys the extra device at the end', async () => {
    const store = new PruneRunStore();
    const one = await runPrune(job(store, { prune: pruneOptions(), evaluation: null }, []));
    const extras = extraRuntimes();
    const events: PruneJobEvent[] = [];
    const two = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null, devices: 2 }, events, {
        createRuntime: extras.createRuntime,
      }),
    );
    expect(one.type).toBe('finished');
    expect(two.type).toBe('finished');
    if (one.type !== 'finished' || two.type !== 'finished') return;
    // Slot 0 is the loaded model's runtime; one more device was made for the second range.
    expect(extras.made).toHaveLength(1);
    expect([...extras.destroyed]).toEqual(extras.made);
    expect(rt.isLost).toBe(false);
    expect(two.run.summary.blocks.map((b) => b.block)).toEqual([0, 1, 2]);
    const weights = async (id: string) =>
      (await store.exportFiles(id))?.find((f) => f.name === 'model.safetensors')?.data;
    const a = await weights(one.run.id);
    const b = await weights(two.run.id);
    expect(a).toBeDefined();
    expect(b).toEqual(a);
    // The last memory report comes after the extra device is gone: only the main device's bytes.
    const last = events.filter((e) => e.type === 'memory').at(-1);
    expect(last).toMatchObject({ liveBytes: rt.ledger.snapshot().liveBytes });
  });

  it('destroys the extra devices on cancel, and refuses several devices where the blocks cannot be split', async () => {
    const store = new PruneRunStore();
    const extras = extraRuntimes();
    const controller = new AbortController();
    const cancelled = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null, devices: 3 }, [], {
        createRuntime: extras.createRuntime,
        signal: controller.signal,
        emit: (e: PruneJobEvent) => {
          if (e.type === 'prune' && e.events.some((x) => x.type === 'operator-finished')) controller.abort();
        },
      }),
    );
    expect(cancelled).toEqual({ type: 'cancelled', stage: 'prune' });
    expect(extras.made.length).toBeGreaterThanOrEqual(1);
    expect(new Set(extras.destroyed)).toEqual(new Set(extras.made));
    expect(store.list()).toHaveLength(0);

    const refused = extraRuntimes();
    const events: PruneJobEvent[] = [];
    const bad = await runPrune(
      job(
        store,
        { prune: pruneOptions({ method: 'wanda', blockInputs: 'pruned' }), evaluation: null, devices: 2 },
        events,
        { createRuntime: refused.createRuntime },
      ),
    );
    expect(bad).toMatchObject({ type: 'error', kind: 'range' });
    if (bad.type === 'error') expect(bad.message).toMatch(/devices = 2: .*dense block inputs/);
    expect(refused.made).toHaveLength(0);
    expect(events.some((e) => e.type === 'prune')).toBe(false);

    // More devices than the cores allow: the same check, with the count named.
    const many = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null, devices: 5 }, [], { cores: 2 }),
    );
    expect(many).toMatchObject({ type: 'error', kind: 'range' });
    if (many.type === 'error') expect(many.message).toMatch(/devices = 5: At most 2/);
  });

  it('destroys the extra devices when the run fails: a third device that cannot be had ends it', async () => {
    const store = new PruneRunStore();
    const extras = extraRuntimes();
    let calls = 0;
    const outcome = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null, devices: 3 }, [], {
        createRuntime: async () => {
          // The second extra device's request fails, as requestAdapter does when none is left.
          if (++calls === 2) throw new Error('no adapter for a third device');
          return extras.createRuntime();
        },
      }),
    );
    expect(outcome).toMatchObject({ type: 'error' });
    if (outcome.type === 'error') expect(outcome.message).toMatch(/no adapter for a third device/);
    expect(extras.made).toHaveLength(1);
    expect([...extras.destroyed]).toEqual(extras.made);
    expect(rt.isLost).toBe(false);
    expect(store.list()).toHaveLength(0);
  });

  it('keeps the pruned matrices on disk when asked or over the threshold: the same weights, the files gone with the run', async () => {
    const store = new PruneRunStore(8);
    const weights = async (id: string) =>
      (await store.exportFiles(id))?.find((f) => f.name === 'model.safetensors')?.data;
    const planOf = (events: PruneJobEvent[]) => events.find((e) => e.type === 'calibrated');
    const memoryEvents: PruneJobEvent[] = [];
    const inMemory = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: EVALUATION }, memoryEvents),
    );

    const root = new MemoryDirectory();
    const opfs = await PrunedOpfs.open(root, new MemoryLocks(), 'tab');
    const session = () => root.at(`${PRUNED_DIRECTORY}/tab`) as MemoryDirectory;
    const disk = (thresholdBytes: number) => ({
      prunedStorage: Promise.resolve({ opfs }),
      onDiskThresholdBytes: thresholdBytes,
    });

    // Asked for: every matrix in the run's one file, read back for the perplexity after and export.
    const askedEvents: PruneJobEvent[] = [];
    const asked = await runPrune(
      job(
        store,
        { prune: pruneOptions(), evaluation: EVALUATION, prunedOnDisk: true },
        askedEvents,
        disk(Number.POSITIVE_INFINITY),
      ),
    );
    expect(inMemory.type).toBe('finished');
    expect(asked.type).toBe('finished');
    if (inMemory.type !== 'finished' || asked.type !== 'finished') return;
    const file = session().at('run-1/0.f32');
    expect(file).toBeInstanceOf(MemoryFile);
    const matrixBytes = asked.run.summary.blocks
      .flatMap((b) => b.matrices)
      .reduce((sum, m) => sum + 4 * m.rows * m.cols, 0);
    expect((file as MemoryFile).bytes.byteLength).toBe(matrixBytes);
    expect(asked.run.pplAfter).toBe(inMemory.run.pplAfter);
    expect(await weights(asked.run.id)).toEqual(await weights(inMemory.run.id));
    // The plan's host figure is the one that applies: two blocks' matrices fewer in the tab.
    const inMemoryPlan = planOf(memoryEvents);
    const askedPlan = planOf(askedEvents);
    expect(inMemoryPlan).toMatchObject({ plan: { prunedElsewhere: false } });
    expect(askedPlan).toMatchObject({ plan: { prunedElsewhere: true } });
    if (inMemoryPlan?.type === 'calibrated' && askedPlan?.type === 'calibrated')
      expect(inMemoryPlan.plan.hostBytes - askedPlan.plan.hostBytes).toBe((matrixBytes * 2) / 3);

    // Unasked, over the threshold, on 2 devices: each range had a file; only the joined one stays.
    const extras = extraRuntimes();
    const over = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null, devices: 2 }, [], {
        ...disk(0),
        createRuntime: extras.createRuntime,
      }),
    );
    expect(over.type).toBe('finished');
    if (over.type !== 'finished') return;
    expect([...(session().at('run-2') as MemoryDirectory).entries.keys()]).toEqual(['2.f32']);
    expect(await weights(over.run.id)).toEqual(await weights(inMemory.run.id));

    // Under the threshold and not asked: in memory, no folder.
    const underEvents: PruneJobEvent[] = [];
    const under = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null }, underEvents, disk(Number.POSITIVE_INFINITY)),
    );
    expect(under.type).toBe('finished');
    expect(planOf(underEvents)).toMatchObject({ plan: { prunedElsewhere: false } });
    expect([...session().entries.keys()]).toEqual(['run-1', 'run-2']);

    // Forgetting a run removes its folder.
    await store.forget(asked.run.id);
    expect([...session().entries.keys()]).toEqual(['run-2']);

    // A cancelled run, and a failed one, leave nothing on disk.
    const controller = new AbortController();
    const cancelled = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null, prunedOnDisk: true }, [], {
        ...disk(Number.POSITIVE_INFINITY),
        signal: controller.signal,
        emit: (e: PruneJobEvent) => {
          if (e.type === 'prune' && e.events.some((x) => x.type === 'block-finished')) controller.abort();
        },
      }),
    );
    expect(cancelled).toEqual({ type: 'cancelled', stage: 'prune' });
    let calls = 0;
    const failed = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null, devices: 3, prunedOnDisk: true }, [], {
        ...disk(Number.POSITIVE_INFINITY),
        createRuntime: async () => {
          if (++calls === 2) throw new Error('no adapter for a third device');
          return extras.createRuntime();
        },
      }),
    );
    expect(failed).toMatchObject({ type: 'error', message: expect.stringMatching(/no adapter/) });
    expect([...session().entries.keys()]).toEqual(['run-2']);
    for (const extra of extras.made) if (!extra.isLost) extra.destroy();

    // Asked where the disk cannot be had: refused before any work, naming why.
    const refused = await runPrune(
      job(store, { prune: pruneOptions(), evaluation: null, prunedOnDisk: true }, [], {
        prunedStorage: Promise.resolve({ unavailable: 'no sync access handles here' }),
      }),
    );
    expect(refused).toMatchObject({
      type: 'error',
      kind: 'range',
      message: 'prunedOnDisk: no sync access handles here',
    });
  });
});
