import { describe, expect, it } from 'vitest';
import { checkSchedule, learningRate, type Schedule } from './schedule';

// The schedule against its closed forms at the points that matter: warm-up ramp, peak, the
// cosine's midpoint and the floor at the last step.
describe('learning-rate schedule', () => {
  const s: Schedule = { peak: 1e-2, warmupSteps: 9, totalSteps: 109, decay: 'cosine', minRatio: 0.1 };

  it('ramps linearly to the peak over the warm-up', () => {
    expect(learningRate(s, 0)).toBeCloseTo(1e-3, 15);
    expect(learningRate(s, 4)).toBeCloseTo(5e-3, 15);
    expect(learningRate(s, 9)).toBeCloseTo(1e-2, 15);
  });

  it('decays by a cosine to the floor at the last step', () => {
    // Step 9 + 49.5 would be the midpoint; at step 59 progress is 50/99.
    const p = 50 / 99;
    expect(learningRate(s, 59)).toBeCloseTo(1e-3 + 9e-3 * 0.5 * (1 + Math.cos(Math.PI * p)), 15);
    expect(learningRate(s, 108)).toBeCloseTo(1e-3, 15);
  });

  it('decays linearly or stays constant', () => {
    expect(learningRate({ ...s, decay: 'linear' }, 108)).toBeCloseTo(1e-3, 15);
    expect(learningRate({ ...s, decay: 'linear' }, 59)).toBeCloseTo(1e-3 + 9e-3 * (1 - 50 / 99), 15);
    expect(learningRate({ ...s, decay: 'constant' }, 100)).toBe(1e-2);
  });

  it('refuses a learning rate, warm-up or floor out of range', () => {
    expect(() => checkSchedule({ ...s, peak: 0 })).toThrow(/learning rate must lie in \(0, 1\]/);
    expect(() => checkSchedule({ ...s, peak: Number.NaN })).toThrow(/learning rate/);
    expect(() => checkSchedule({ ...s, peak: 3 })).toThrow(/got 3/);
    expect(() => checkSchedule({ ...s, warmupSteps: 200 })).toThrow(/warm-up must be .* 0\.\.109, got 200/);
    expect(() => checkSchedule({ ...s, minRatio: 2 })).toThrow(/floor/);
    expect(() => checkSchedule({ ...s, totalSteps: 0 })).toThrow(/steps/);
  });
});
