import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { failAllocations, heldBytes } from '../gpu/testing';
import { createNodeRuntime } from '../host/nodeGpu';
import { splitTokens } from '../train/data';
import {
  type ArmResidency,
  type ArmSpec,
  type TrainEvent,
  TrainingJob,
  type TrainOptions,
  TrainOutOfMemoryError,
} from '../train/job';
import { TrainJob, type TrainJobHost, type TrainJobProgress } from './train';
import {
  ADAMW_ARM,
  ADAPPROX_ARM,
  config as c,
  lossesFrom,
  start,
  tokens,
  trainInput,
  uninterruptedRun,
} from './trainTesting';

// The training job runs out of GPU memory once, in the middle of step 3 (after the checkpoint of the
// validation at step 2): it frees what it held, says so ('degraded'), and continues from that
// checkpoint with one arm at a time on the GPU. The arms' weights and optimizer state wait on the
// host as exact float32 copies and the steps run the same kernels on the same inputs in the same
// order, so the bound tested is zero: every loss from the checkpoint on and the final weights equal
// an undegraded run's bit for bit. A second failure ends the run with the typed error and its
// advice, and leaves nothing allocated.

// Two arms whose optimizers keep state between steps (moments; Adapprox its factors and rank).
const ARMS: ArmSpec[] = [ADAMW_ARM, ADAPPROX_ARM];
const input = trainInput(ARMS, 4);
const OPTIONS = input.options;

let rt: GpuRuntime;
const held = () => heldBytes(rt);
beforeAll(async () => {
  rt = await createNodeRuntime();
});
afterAll(() => rt.destroy());

function host(engine: TrainEvent[], progress: TrainJobProgress[]): TrainJobHost {
  return {
    acquire: async () => rt,
    tokens: async () => tokens,
    onProgress: (e) => progress.push(e),
    onEngineEvent: (e) => engine.push(e),
  };
}

/**
 * Makes activation allocations fail as out of memory, `count` times, from the first one after the
 * engine reported `afterEvents` events (the step in progress then fails part-way through).
 */
function failActivations(engine: TrainEvent[], afterEvents: number, count: number): () => void {
  return failAllocations(
    rt,
    count,
    (_, category) => category === 'activations' && engine.length >= afterEvents,
  );
}

/** The index just after the engine's checkpoint of `step` (the next activation belongs to step step+1). */
const afterCheckpoint = (events: TrainEvent[], step: number) =>
  events.findIndex((e) => e.type === 'checkpoint' && e.step === step) + 1;

describe('the training job out of memory', () => {
  it('continues from the checkpoint with one arm at a time and takes the undegraded run’s steps, bit for bit', async () => {
    const { events: wholeEvents, job: wholeJob, result: whole } = await uninterruptedRun(host, input);
    // The first arm's step 3 fails on its first activation.
    const failAt = afterCheckpoint(wholeEvents, 2);
    expect(failAt).toBeGreaterThan(0);

    const events: TrainEvent[] = [];
    const progress: TrainJobProgress[] = [];
    const live = held();
    const restore = failActivations(events, failAt, 1);
    const job = new TrainJob(host(events, progress), input);
    let result: Awaited<ReturnType<TrainJob['run']>>;
    try {
      result = await job.run();
    } finally {
      restore();
    }
    expect(job.residency).toBe('one-at-a-time');
    expect(progress.filter((e) => e.type === 'degraded')).toEqual([
      { type: 'degraded', step: 2, message: expect.stringMatching(/train .*injected by the test/) },
    ]);
    expect(result.summary.status).toBe('finished');
    // Every loss from the checkpoint on, and the final weights, as the undegraded run's.
    const resumedAt = events.findIndex((e) => e.type === 'step' && e.step === 3);
    expect(lossesFrom(events.slice(resumedAt), 2)).toEqual(lossesFrom(wholeEvents, 2));
    for (const arm of ARMS) {
      const want = whole.weights.get(arm.id) as Map<string, Float32Array>;
      const got = result.weights.get(arm.id) as Map<string, Float32Array>;
      expect([...got.keys()]).toEqual([...want.keys()]);
      for (const [name, w] of want) expect(got.get(name), `${arm.id} ${name}`).toEqual(w);
    }
    // The summary's state bytes are the resident run's (the parked arms report their last placement's).
    expect(result.summary.arms.map((a) => a.state)).toEqual(whole.summary.arms.map((a) => a.state));
    // The job's record was rewound to the checkpoint: its curves hold each step once, the undegraded run's.
    expect(job.record.curves()).toEqual(wholeJob.record.curves());
    // Nothing stays allocated after the run (the engine is destroyed; the parked arms are on the host).
    expect(held()).toBe(live);
  }, 120_000);

  it('ends with TrainOutOfMemoryError when memory runs out again, and leaves nothing allocated', async () => {
    const events: TrainEvent[] = [];
    const progress: TrainJobProgress[] = [];
    const live = held();
    const restore = failActivations(events, 0, 2);
    try {
      const error = await new TrainJob(host(events, progress), input).run().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TrainOutOfMemoryError);
      expect((error as TrainOutOfMemoryError).oneArmAtATime).toBe(true);
      expect((error as Error).message).toMatch(/one arm at a time on the GPU, so try a window of 4 tokens/);
    } finally {
      restore();
    }
    expect(progress.filter((e) => e.type === 'degraded')).toHaveLength(1);
    expect(held()).toBe(live);
  }, 120_000);

  it('holds one arm at a time on the GPU: the peak of weights, gradients and optimizer state is one arm’s', async () => {
    // Two arms of the same model and optimizer: their weights, gradients and state are the same size.
    const twins: TrainOptions = {
      ...OPTIONS,
      steps: 2,
      arms: [
        { id: 'a', label: 'A', optimizer: { kind: 'adamw' }, lr: 3e-3 },
        { id: 'b', label: 'B', optimizer: { kind: 'adamw' }, lr: 1e-3 },
      ],
    };
    const data = splitTokens(tokens, 0.2, twins.seqLen);
    const peaks = async (residency: ArmResidency) => {
      rt.ledger.resetPeak();
      for (const category of ['weights', 'gradients', 'optimizer'] as const) rt.ledger.resetPeakIn(category);
      const job = await TrainingJob.create(rt, c, start, data, twins, null, residency);
      try {
        await job.run();
      } finally {
        job.destroy();
      }
      return {
        weights: rt.ledger.peakIn('weights'),
        gradients: rt.ledger.peakIn('gradients'),
        optimizer: rt.ledger.peakIn('optimizer'),
      };
    };
    const resident = await peaks('resident');
    const oneAtATime = await peaks('one-at-a-time');
    expect(oneAtATime.weights * 2).toBe(resident.weights);
    expect(oneAtATime.gradients * 2).toBe(resident.gradients);
    expect(oneAtATime.optimizer * 2).toBe(resident.optimizer);
    expect(oneAtATime.optimizer).toBeGreaterThan(0);
  }, 120_000);
});
