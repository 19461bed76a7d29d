// Learning-rate schedules: linear warm-up from 0, then constant, linear or cosine decay to a floor
// (the setup of docs/algorithms/adapprox.md §4: warm-up, then cosine). Every optimizer arm of a comparison uses the same
// schedule shape scaled to its own peak learning rate.

import { describeBound, inBound, intervalOf } from '../bounds/bound';
import { TRAIN_BOUNDS } from './options';

export const DECAYS = ['cosine', 'linear', 'constant'] as const;
export type Decay = (typeof DECAYS)[number];

export interface Schedule {
  /** Peak learning rate, reached at the end of warm-up. */
  peak: number;
  warmupSteps: number;
  totalSteps: number;
  decay: Decay;
  /** The floor as a fraction of the peak, reached at the last step. Default 0.1. */
  minRatio?: number;
}

export function checkSchedule(s: Schedule): void {
  const B = TRAIN_BOUNDS;
  if (!inBound(B.lr, s.peak))
    throw new RangeError(`the learning rate must lie in ${intervalOf(B.lr)}, got ${s.peak}`);
  if (!inBound(B.steps, s.totalSteps))
    throw new RangeError(`the number of steps must be ${describeBound(B.steps)}, got ${s.totalSteps}`);
  // Warm-up ends by the last step at the latest.
  const warmup = { ...B.warmupSteps, max: Math.min(B.warmupSteps.max, s.totalSteps) };
  if (!inBound(warmup, s.warmupSteps)) {
    throw new RangeError(
      `warm-up must be an integer number of steps in ${warmup.min}..${warmup.max}, got ${s.warmupSteps}`,
    );
  }
  const floor = s.minRatio ?? 0.1;
  if (!inBound(B.minLrRatio, floor))
    throw new RangeError(`the decay floor must lie in ${intervalOf(B.minLrRatio)}, got ${floor}`);
  if (!DECAYS.includes(s.decay)) throw new RangeError(`unknown decay ${s.decay}`);
}

/** The learning rate of step s (0-based). */
export function learningRate(s: Schedule, step: number): number {
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / (s.warmupSteps + 1);
  if (s.decay === 'constant') return s.peak;
  const floor = s.peak * (s.minRatio ?? 0.1);
  const span = Math.max(1, s.totalSteps - 1 - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  const shape = s.decay === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
  return floor + (s.peak - floor) * shape;
}
