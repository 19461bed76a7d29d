// What a training comparison is asked to do, and every range its settings are checked against,
// written once: the engine (checkTrainOptions in job.ts, checkSchedule in schedule.ts, splitTokens
// in data.ts), the studio's form and its links, and the CLI's options all read them from here.
// Light on purpose (types and numbers only), so the studio's page can import it without the engine.

import type { Bound } from '../bounds/bound';
import type { OptimizerChoice } from './optim';
import type { Decay } from './schedule';

export interface ArmSpec {
  /** Unique within the job; events and exports name the arm by it. */
  id: string;
  label: string;
  optimizer: OptimizerChoice;
  /** Peak learning rate of this arm (arms are tuned separately; docs/algorithms/adapprox.md §4). */
  lr: number;
}

export interface TrainOptions {
  seqLen: number;
  /** Windows per step. */
  batch: number;
  steps: number;
  warmupSteps: number;
  decay: Decay;
  /** Learning-rate floor as a fraction of the peak. Default 0.1. */
  minLrRatio?: number;
  /** Validate every this many steps (and before the first and after the last). */
  validationEvery: number;
  /** Fixed validation windows scored each time. */
  validationWindows: number;
  /** Seeds the batch order (the model's initialization is seeded by whoever builds it). */
  seed: number;
  arms: ArmSpec[];
}

/**
 * The ranges of a training run's settings. The upper ends of the counts are far beyond what a
 * browser or a CPU adapter trains in a day; they exist so that a link or a typo cannot ask for a
 * run that only fails after its text is read.
 */
export const TRAIN_BOUNDS = {
  steps: { min: 1, max: 1_000_000, whole: true },
  /** Windows per step (accumulated window by window, so memory does not grow with it). */
  batch: { min: 1, max: 4096, whole: true },
  /** Tokens per window; also at most the model's context, which the engine and the form check. */
  seqLen: { min: 2, max: 1_000_000, whole: true },
  /** Also at most the steps, which checkSchedule checks. */
  warmupSteps: { min: 0, max: 1_000_000, whole: true },
  validationEvery: { min: 1, max: 1_000_000, whole: true },
  validationWindows: { min: 1, max: 100_000, whole: true },
  /** Every arm's peak learning rate. */
  lr: { min: 0, max: 1, whole: false, openMin: true },
  /** The decay's floor as a fraction of the peak. */
  minLrRatio: { min: 0, max: 1, whole: false },
  /** The text's tail held out for validation: both parts must be non-empty. */
  validationFraction: { min: 0, max: 1, whole: false, openMin: true, openMax: true },
} as const satisfies Record<string, Bound>;
