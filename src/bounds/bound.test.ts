import { describe, expect, it } from 'vitest';
import { type Bound, describeBound, inBound, intervalOf } from './bound';

// The one check every bound goes through, and the words every host says it with.
describe('a bound', () => {
  it('includes its ends unless they are open, and whole numbers only when whole', () => {
    const k: Bound = { min: 1, max: 10, whole: true };
    expect([0, 1, 5, 10, 11, 2.5, Number.NaN].map((v) => inBound(k, v))).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    const lr: Bound = { min: 0, max: 1, whole: false, openMin: true };
    expect([0, 1e-9, 0.5, 1, 1 + 1e-9, Number.POSITIVE_INFINITY].map((v) => inBound(lr, v))).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
    ]);
    const up: Bound = { min: 0, max: Number.POSITIVE_INFINITY, whole: false };
    expect([0, 1e300, -1e-300, Number.NaN].map((v) => inBound(up, v))).toEqual([true, true, false, false]);
  });

  it('says what it takes', () => {
    expect(describeBound({ min: 1, max: 10000, whole: true })).toBe('a whole number from 1 to 10000');
    expect(describeBound({ min: 1, max: Number.POSITIVE_INFINITY, whole: true })).toBe('a whole number ≥ 1');
    expect(describeBound({ min: 0, max: 1, whole: false, openMin: true, openMax: true })).toBe(
      'a number strictly between 0 and 1',
    );
    expect(describeBound({ min: 0, max: 10, whole: false, openMin: true })).toBe('a number in (0, 10]');
    expect(describeBound({ min: 0, max: Number.POSITIVE_INFINITY, whole: false })).toBe('a number ≥ 0');
    expect(intervalOf({ min: 0, max: 1, whole: false, openMax: true })).toBe('[0, 1)');
  });
});
