// A setting's range, and the words for it. Every bound of a job's settings is written once, in the
// job's own part (PRUNE_BOUNDS in prune/options.ts, TRAIN_BOUNDS in train/options.ts), and the
// engine, the studio's forms, its links and the CLI's options all check against that one object
// and say what they expect with describeBound. This file sits at the bottom floor, importing
// nothing, so that pruning and training (which may not import each other) share it.

/** A setting's range: each end included unless marked open; a max of Infinity means no upper end. */
export interface Bound {
  min: number;
  max: number;
  whole: boolean;
  openMin?: boolean;
  openMax?: boolean;
}

export function inBound(b: Bound, v: number): boolean {
  return (
    (!b.whole || Number.isInteger(v)) &&
    (b.openMin ? v > b.min : v >= b.min) &&
    (b.openMax ? v < b.max : v <= b.max)
  );
}

/** '(0, 1]', '[0, 10)': a range of real numbers as an interval. */
export function intervalOf(b: Bound): string {
  return `${b.openMin ? '(' : '['}${b.min}, ${b.max}${b.openMax ? ')' : ']'}`;
}

/**
 * 'a whole number from 1 to 10000', 'a whole number ≥ 1', 'a number strictly between 0 and 1',
 * 'a number in (0, 10]', 'a number ≥ 0'.
 */
export function describeBound(b: Bound): string {
  const upward = b.max === Number.POSITIVE_INFINITY;
  if (b.whole) return upward ? `a whole number ≥ ${b.min}` : `a whole number from ${b.min} to ${b.max}`;
  if (upward) return `a number ${b.openMin ? '>' : '≥'} ${b.min}`;
  if (b.openMin && b.openMax) return `a number strictly between ${b.min} and ${b.max}`;
  return `a number in ${intervalOf(b)}`;
}

/** A 32-bit seed, as the project's seeded generators take one (kernels/random.ts, train/data.ts). */
export const SEED_BOUND: Bound = { min: 0, max: 0xffff_ffff, whole: true };
