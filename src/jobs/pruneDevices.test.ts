import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { freshSeed } from '../kernels/random';
import { randomTensors, tinyConfig } from '../model/testModels';
import { memoryWeightSource } from '../model/weights';
import type { PruneEvent } from '../prune/events';
import { defaultPruneOptions } from '../prune/job';
import type { PruneOptions } from '../prune/options';
import { characterTokenizer } from '../tokenizer/testing';
import { PruneJob, type PruneJobHost, type PruneJobProgress, type PruneJobResult } from './prune';

// FISTAPruner on several devices at once: the blocks split into ranges, each pruned on its own
// runtime, joined into the weights of a one-device run bit for bit, also when one range's device is
// lost midway. The baselines' sequential pipeline stays on one device.

const c = tinyConfig('llama', { layers: 5 });
const TEXT = 'several devices prune the blocks of one small model at once; '.repeat(30);
const tokenizer = characterTokenizer(c.vocabSize);
const calibration = {
  source: { kind: 'text' as const, text: TEXT, label: 'test' },
  windows: 4,
  seqLen: 8,
  seed: 3,
};
const base = defaultPruneOptions('fista', { context: c.maxPositions, parameters: 1000 });
const fista: PruneOptions = { ...base, calibration, fista: { ...base.fista, iterations: 3, rounds: 2 } };
const wanda: PruneOptions = {
  ...defaultPruneOptions('wanda', { context: c.maxPositions, parameters: 1000 }),
  calibration,
};

const made: GpuRuntime[] = [];
afterAll(() => {
  for (const rt of made) if (!rt.isLost) rt.destroy();
});

/** A host with a runtime per slot, replaced when its device is lost, as the CLI's withRuntimes does. */
function host(
  seed: number,
  progress: PruneJobProgress[],
  engine: PruneEvent[],
  devices: number,
  onEvent?: (e: PruneEvent, slots: Map<number, GpuRuntime>) => void,
): PruneJobHost & { slots: Map<number, GpuRuntime> } {
  const slots = new Map<number, GpuRuntime>();
  return {
    slots,
    source: memoryWeightSource(c, randomTensors(c, seed), 'tiny'),
    tokenizer,
    devices,
    acquire: async (slot = 0) => {
      let rt = slots.get(slot);
      if (!rt || rt.isLost) {
        rt = await createNodeRuntime();
        made.push(rt);
        slots.set(slot, rt);
      }
      return rt;
    },
    readCalibration: async () => TEXT,
    evalTokens: async () => [],
    onProgress: (e) => progress.push(e),
    onEngineEvent: (e) => {
      engine.push(e);
      onEvent?.(e, slots);
    },
  };
}

describe('pruning on several devices', () => {
  // The one-device run every test compares with.
  const seed = freshSeed();
  let one: PruneJobResult;
  beforeAll(async () => {
    one = await new PruneJob(host(seed, [], [], 1), fista, null).run();
  });

  it('FISTAPruner on 2 and 3 devices: the one-device weights bit for bit, one start event, every block once', async () => {
    for (const devices of [2, 3]) {
      const engine: PruneEvent[] = [];
      const h = host(seed, [], engine, devices);
      const many = await new PruneJob(h, fista, null).run();
      expect(h.slots.size, `seed ${seed}`).toBe(devices);
      expect([...many.tensors.keys()].sort()).toEqual([...one.tensors.keys()].sort());
      for (const [name, w] of one.tensors) expect(many.tensors.get(name), `${name}, seed ${seed}`).toEqual(w);
      expect(many.summary.sparsity).toBe(one.summary.sparsity);
      expect(many.summary.blocks.map((b) => b.block)).toEqual([0, 1, 2, 3, 4]);
      const started = engine.filter((e) => e.type === 'started');
      expect(started).toHaveLength(1);
      expect(started[0]).toMatchObject({ blocks: [0, 1, 2, 3, 4] });
      expect(engine.filter((e) => e.type === 'block-finished')).toHaveLength(5);
    }
  });

  it('a range whose device is lost continues on a new one from its last finished block', async () => {
    const progress: PruneJobProgress[] = [];
    let destroyed = false;
    // The second range holds blocks 2–4 (of 5, in 2 ranges): lose its device once block 2 is done.
    const h = host(seed, progress, [], 2, (e, slots) => {
      if (!destroyed && e.type === 'block-finished' && e.summary.block === 2) {
        destroyed = true;
        slots.get(1)?.device.destroy();
      }
    });
    const job = new PruneJob(h, fista, null);
    const many = await job.run();
    expect(destroyed).toBe(true);
    expect(job.resumes).toBe(1);
    expect(progress.filter((e) => e.type === 'resumed')).toEqual([
      expect.objectContaining({ type: 'resumed', stage: 'prune', block: 3, blocksKept: 1 }),
    ]);
    for (const [name, w] of one.tensors) expect(many.tensors.get(name), `${name}, seed ${seed}`).toEqual(w);
  });

  it('the baselines’ sequential pipeline stays on one device', async () => {
    const h = host(freshSeed(), [], [], 3);
    const run = await new PruneJob(h, wanda, null).run();
    expect(h.slots.size).toBe(1);
    expect(run.summary.blocks).toHaveLength(5);
  });
});
