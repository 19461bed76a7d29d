// `train` survives a lost device: the job (src/jobs/train.ts) asks the CLI for a new runtime and
// continues from the checkpoint of the last validation (weights and optimizer state, exact copies).
// The batches and learning rates follow the step alone, so the continued run must report the losses
// of an uninterrupted one from that step on and save the same weights, bit for bit.

import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import type { ModelConfig } from '../model/config';
import { jsonOf, onTrainingEvents, runCommand, tempFolder, tensorsOf } from './testing';

// The runtimes the CLI makes, and a switch that destroys the device during step 3 (after the
// validation and checkpoint of step 2).
const state = vi.hoisted(() => ({ made: [] as GpuRuntime[], loseAtStep: 0 }));

vi.mock('../host/nodeGpu', async (importOriginal) =>
  (await import('../host/testing')).recordingNodeGpu(await importOriginal(), state.made),
);

const temp = tempFolder('train-resume-test-');
// The engine's events pass through here first: the first arm's step 3 destroys the device, so the
// second arm's step 3 fails on it.
onTrainingEvents((event) => {
  if (state.loseAtStep > 0 && event.type === 'step' && event.step === state.loseAtStep) {
    state.loseAtStep = 0;
    state.made.at(-1)?.device.destroy();
  }
});

const trainArgs = (out: string) => [
  'train',
  '--size',
  'nano',
  '--steps',
  '5',
  '--batch',
  '1',
  '--seq-len',
  '16',
  '--val-every',
  '2',
  '--val-windows',
  '2',
  '--arm',
  'adamw',
  '--arm',
  'adapprox',
  '--out',
  out,
  '--json',
];

interface TrainJson {
  config: ModelConfig;
  resumes: number;
  summary: { arms: { id: string; steps: number; finalTrainLoss: number; finalValidationLoss: number }[] };
  series: Record<string, { loss: number[]; validation: [number, number][] }>;
}

describe('train after a lost device', () => {
  it('continues on a new device from the last checkpoint and ends as an uninterrupted run', async () => {
    const whole = await runCommand(...trainArgs(join(temp.dir, 'whole')));
    expect(whole.code, whole.stderr).toBe(0);
    const wholeOut = jsonOf(whole) as unknown as TrainJson;
    expect(wholeOut.resumes).toBe(0);

    state.made.length = 0;
    state.loseAtStep = 3;
    const resumed = await runCommand(...trainArgs(join(temp.dir, 'resumed')));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(state.loseAtStep).toBe(0);
    expect(state.made).toHaveLength(2);
    expect(state.made[0]?.isLost).toBe(true);
    const out = jsonOf(resumed) as unknown as TrainJson;
    expect(out.resumes).toBe(1);
    expect(resumed.stderr).toMatch(/the GPU device was lost .*; continuing on a new one from step 2/);

    // Each step once, every loss the uninterrupted run's, bit for bit (JSON keeps a double exactly).
    for (const arm of wholeOut.summary.arms) {
      expect(out.series[arm.id]?.loss, arm.id).toEqual(wholeOut.series[arm.id]?.loss);
      expect(out.series[arm.id]?.validation, arm.id).toEqual(wholeOut.series[arm.id]?.validation);
      expect(out.series[arm.id]?.loss, arm.id).toHaveLength(5);
      expect(out.summary.arms.find((a) => a.id === arm.id)).toMatchObject({
        steps: 5,
        finalTrainLoss: arm.finalTrainLoss,
        finalValidationLoss: arm.finalValidationLoss,
      });
      const folder = arm.id.replace(/[^A-Za-z0-9._=-]+/g, '_');
      const want = await tensorsOf(join(temp.dir, 'whole', folder), wholeOut.config);
      const got = await tensorsOf(join(temp.dir, 'resumed', folder), out.config);
      for (const [name, w] of want) expect(got.get(name), `${arm.id} ${name}`).toEqual(w);
    }
  }, 240_000);
});
