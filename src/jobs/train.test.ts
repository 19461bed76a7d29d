import { afterAll, describe, expect, it } from 'vitest';
import { ReacquiringRuntimes } from '../host/testRuntimes';
import type { ArmSpec, TrainEvent } from '../train/job';
import { TrainJob, type TrainJobHost, type TrainJobProgress } from './train';
import { ADAMW_ARM, ADAPPROX_ARM, lossesFrom, tokens, trainInput, uninterruptedRun } from './trainTesting';

// The training job survives a lost device: the device is destroyed in the middle of step 3, after
// the checkpoint of the validation at step 2, and the job continues on a new device from that
// checkpoint. Each arm's losses from the checkpoint on (every step's and every validation's) and its
// final weights must equal an uninterrupted run's bit for bit: the checkpoint holds the weights and
// the optimizer state as exact float32 copies, the batches and learning rates follow the step alone,
// and the new device runs the same kernels on the same inputs in the same order. All four optimizers
// run as arms of the same job, Adapprox with its factored matrices (the model's 12-wide ones).

const ARMS: ArmSpec[] = [
  ADAMW_ARM,
  {
    id: 'adafactor',
    label: 'Adafactor',
    optimizer: { kind: 'adafactor', options: { beta1: 0.9 } },
    lr: 3e-3,
  },
  { id: 'came', label: 'CAME', optimizer: { kind: 'came' }, lr: 1e-3 },
  ADAPPROX_ARM,
];
const input = trainInput(ARMS, 5);
const OPTIONS = input.options;

const runtimes = new ReacquiringRuntimes();
const acquire = runtimes.acquire;

afterAll(() => runtimes.destroyAll());

function host(
  engine: TrainEvent[],
  progress: TrainJobProgress[],
  extra: Partial<TrainJobHost> = {},
): TrainJobHost {
  return {
    acquire,
    tokens: async () => tokens,
    onProgress: (e) => progress.push(e),
    onEngineEvent: (e) => engine.push(e),
    ...extra,
  };
}

describe('the training job after a lost device', () => {
  it('continues from the last checkpoint on a new device and takes the uninterrupted run’s steps, bit for bit', async () => {
    const { events: wholeEvents, job: wholeJob, result: whole } = await uninterruptedRun(host, input);

    const events: TrainEvent[] = [];
    const progress: TrainJobProgress[] = [];
    let destroyed = false;
    const job = new TrainJob(
      host(events, progress, {
        onEngineEvent: (e) => {
          events.push(e);
          // The first arm's step 3 is done; the other arms' step 3 is lost with the device.
          if (!destroyed && e.type === 'step' && e.step === 3) {
            destroyed = true;
            runtimes.current?.device.destroy();
          }
        },
      }),
      input,
    );
    const before = runtimes.made.length;
    const result = await job.run();
    expect(destroyed).toBe(true);
    expect(runtimes.made.length).toBe(before + 1);
    expect(job.resumes).toBe(1);
    expect(progress.filter((e) => e.type === 'resumed')).toEqual([
      { type: 'resumed', step: 2, attempt: 1, message: expect.any(String) },
    ]);
    expect(result.summary.status).toBe('finished');

    // From the checkpoint on, the continued run reported what the uninterrupted one did.
    const resumedAt = events.findIndex((e) => e.type === 'step' && e.step === 3);
    const after = events.slice(
      events.findIndex((e, i) => i > resumedAt && e.type === 'step' && e.step === 3),
    );
    expect(lossesFrom(after, 2)).toEqual(lossesFrom(wholeEvents, 2));
    // The record holds each step once, as the uninterrupted run's does.
    const series = job.record.series();
    const wholeSeries = wholeJob.record.series();
    for (const arm of ARMS) {
      expect(series[arm.id]?.loss, arm.id).toEqual(wholeSeries[arm.id]?.loss);
      expect(series[arm.id]?.loss, arm.id).toHaveLength(5);
      expect(series[arm.id]?.validation, arm.id).toEqual(wholeSeries[arm.id]?.validation);
      expect(result.summary.arms.find((a) => a.id === arm.id)).toMatchObject({
        steps: 5,
        finalTrainLoss: whole.summary.arms.find((a) => a.id === arm.id)?.finalTrainLoss,
        finalValidationLoss: whole.summary.arms.find((a) => a.id === arm.id)?.finalValidationLoss,
      });
      for (const [name, w] of whole.weights.get(arm.id) ?? [])
        expect(result.weights.get(arm.id)?.get(name), `${arm.id} ${name}`).toEqual(w);
    }
    // The interrupted attempt did take steps past the checkpoint, so something was repeated.
    expect(events.filter((e) => e.type === 'step' && e.step === 3).length).toBeGreaterThan(ARMS.length);
  }, 240_000);

  it('gives up after MAX_RESUMES lost devices with the device’s error', async () => {
    let losses = 0;
    const job = new TrainJob(
      host([], [], {
        onEngineEvent: (e) => {
          if (e.type === 'step') {
            losses++;
            runtimes.current?.device.destroy();
          }
        },
      }),
      { ...input, options: { ...OPTIONS, arms: [ARMS[0] as ArmSpec] } },
    );
    await expect(job.run()).rejects.toThrow();
    expect(job.resumes).toBe(3);
    expect(losses).toBe(4);
    // The checkpoint of the first validation (step 0) is still there for the host to keep.
    expect(job.checkpoint?.step).toBe(0);
  }, 120_000);
});
