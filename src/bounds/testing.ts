// For tests: the values that tell whether a check honours a bound. Every check of a bound, on
// every side that has one (engine, form, link, CLI), is driven with these and must accept exactly
// the ones inBound accepts.

import type { Bound } from './bound';

/**
 * Each end, one past each end (one for whole numbers, a millionth of the range for real ones), a
 * number between two whole ones, and two fresh values from `draw` (uniform in [0, 1)): one inside
 * and one beyond the top (for a bound with no top, only the bottom's values and one above it). Real values are rounded to 6 decimals, so that their text is as short as
 * a person would type it.
 */
export function edgeValues(b: Bound, draw: () => number): number[] {
  if (b.max === Number.POSITIVE_INFINITY) {
    // No top of its own (the model's or the machine's, checked where they are known): the bottom
    // end, one past it, and a fresh value above it.
    const above = b.min + 1 + Math.floor(draw() * 1000);
    return b.whole ? [b.min - 1, b.min, b.min + 0.5, above] : [b.min - 1e-6, b.min, b.min + 1e-6, above];
  }
  if (b.whole) {
    const inside = b.min + Math.floor(draw() * (b.max - b.min + 1));
    const beyond = b.max + 1 + Math.floor(draw() * 1000);
    return [b.min - 1, b.min, b.min + 0.5, inside, b.max, b.max + 1, beyond];
  }
  const step = (b.max - b.min) * 1e-6;
  const round = (v: number) => Number(v.toFixed(6));
  const inside = round(b.min + step + draw() * (b.max - b.min - 2 * step));
  const beyond = round(b.max + step + draw() * (b.max - b.min));
  return [b.min - step, b.min, b.min + step, inside, b.max - step, b.max, b.max + step, beyond].map(round);
}
