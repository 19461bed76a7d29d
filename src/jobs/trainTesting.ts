// For the training job's tests (train.test.ts: a lost device; trainOom.test.ts: out of memory): the
// one-block Llama they train, its seeded starting weights, a short story as tokens, and a schedule
// that checkpoints at the validation of step 2, where both tests interrupt the run in step 3. And a
// studio run's short options, for the tests of the worker's job and of the runs it keeps.

import { expect } from 'vitest';
import { randomTensors, tinyConfig } from '../model/testModels';
import type { ArmSpec, TrainEvent, TrainOptions } from '../train/job';
import { TrainJob, type TrainJobHost, type TrainJobProgress } from './train';
import type { TrainJobOptions } from './trainData';

export const config = tinyConfig('llama', { layers: 1 });
export const start = randomTensors(config, 3);
const TEXT = 'Once upon a time a small model learned to tell stories, one token at a time. '.repeat(12);
export const tokens = [...TEXT].map((ch) => 3 + ((ch.codePointAt(0) ?? 0) % (config.vocabSize - 3)));

export const ADAMW_ARM: ArmSpec = { id: 'adamw', label: 'AdamW', optimizer: { kind: 'adamw' }, lr: 3e-3 };
/** Adapprox with at most rank 3, so the model's 12-wide matrices are factored. */
export const ADAPPROX_ARM: ArmSpec = {
  id: 'adapprox',
  label: 'Adapprox',
  optimizer: { kind: 'adapprox', options: { kMax: 3 } },
  lr: 3e-3,
};

/** The job's input: `steps` steps of `arms`, validated every 2 steps, a fifth of the text held out. */
export function trainInput(arms: ArmSpec[], steps: number) {
  const options: TrainOptions = {
    seqLen: 8,
    batch: 2,
    steps,
    warmupSteps: 1,
    decay: 'cosine',
    validationEvery: 2,
    validationWindows: 2,
    seed: 4,
    arms,
  };
  return { config, start, options, validationFraction: 0.2 };
}

/**
 * `input` run with nothing interrupting it, to the end: the reference a resumed or degraded run
 * must equal. Its engine events, the job (for its record) and its result.
 */
export async function uninterruptedRun(
  host: (engine: TrainEvent[], progress: TrainJobProgress[]) => TrainJobHost,
  input: ConstructorParameters<typeof TrainJob>[1],
) {
  const events: TrainEvent[] = [];
  const job = new TrainJob(host(events, []), input);
  const result = await job.run();
  expect(result.summary.status).toBe('finished');
  return { events, job, result };
}

/** Every step's and validation's loss after step `from`, as comparable lines. */
export const lossesFrom = (events: TrainEvent[], from: number) =>
  events.flatMap((e) =>
    (e.type === 'step' || e.type === 'validation') && e.step > from
      ? [`${e.type} ${e.arm} ${e.step} ${e.loss}`]
      : [],
  );

/**
 * A studio run's options as the worker gets them, short enough for a test: 4 steps of one window,
 * validated every 2 on one window, constant rate, seed 0; the model, text, window and arms are the
 * test's own.
 */
export function studioTrainOptions(
  given: Pick<TrainJobOptions, 'model' | 'data' | 'seqLen' | 'arms'>,
): TrainJobOptions {
  return {
    ...given,
    batch: 1,
    steps: 4,
    warmupSteps: 0,
    decay: 'constant',
    validationEvery: 2,
    validationWindows: 1,
    seed: 0,
  };
}
