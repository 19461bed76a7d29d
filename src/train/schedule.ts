// Learning-rate schedules: linear warm-up from 0, then constant, linear or cosine decay to a floor
// (the setup of docs/algorithms/adapprox.md §4: warm-up, then cosine). Every optimizer arm of a comparison uses the same
// schedule shape scaled to its own peak learning rate.

export type Decay = 'constant' | 'linear' | 'cosine';

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
  if (!Number.isFinite(s.peak) || !(s.peak > 0) || s.peak > 1) {
    throw new RangeError(`the learning rate must lie in (0, 1], got ${s.peak}`);
  }
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 1) {
    throw new RangeError(`the number of steps must be an integer ≥ 1, got ${s.totalSteps}`);
  }
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0 || s.warmupSteps > s.totalSteps) {
    throw new RangeError(
      `warm-up must be an integer number of steps in 0..${s.totalSteps}, got ${s.warmupSteps}`,
    );
  }
  const floor = s.minRatio ?? 0.1;
  if (!(floor >= 0 && floor <= 1)) throw new RangeError(`the decay floor must lie in [0, 1], got ${floor}`);
  if (!['constant', 'linear', 'cosine'].includes(s.decay)) throw new RangeError(`unknown decay ${s.decay}`);
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
