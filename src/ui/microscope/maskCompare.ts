// Two runs' masks of the same matrix, compared: which weights each kept, and how much the kept sets
// overlap. Byte-wise bit operations with a popcount table: a 4096 × 11008 matrix is 5.6 MB of bits
// and compares in a few milliseconds.

import { type Mask, POPCOUNT } from './maskGrid';

export interface MaskDiff {
  /** Kept in both, in A only, in B only (entries set). */
  both: Mask;
  onlyA: Mask;
  onlyB: Mask;
  counts: { both: number; onlyA: number; onlyB: number; neither: number };
  /** |A ∩ B| / |A ∪ B| of the kept sets; 1 when both keep nothing (the sets are equal). */
  jaccard: number;
}

export class MaskShapeError extends RangeError {
  override name = 'MaskShapeError';
}

function sameShape(a: Mask, b: Mask): void {
  if (a.rows !== b.rows || a.cols !== b.cols)
    throw new MaskShapeError(`a ${a.rows}×${a.cols} mask cannot be compared with a ${b.rows}×${b.cols} one`);
}

/** |A ∩ B| / |A ∪ B| of the kept entries (unused bits of the last byte are 0 in both). */
export function jaccard(a: Mask, b: Mask): number {
  sameShape(a, b);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.bits.length; i++) {
    const x = a.bits[i] as number;
    const y = b.bits[i] as number;
    inter += POPCOUNT[x & y] as number;
    union += POPCOUNT[x | y] as number;
  }
  return union === 0 ? 1 : inter / union;
}

export function diffMasks(a: Mask, b: Mask): MaskDiff {
  sameShape(a, b);
  const n = a.bits.length;
  const both = new Uint8Array(n);
  const onlyA = new Uint8Array(n);
  const onlyB = new Uint8Array(n);
  let cBoth = 0;
  let cA = 0;
  let cB = 0;
  for (let i = 0; i < n; i++) {
    const x = a.bits[i] as number;
    const y = b.bits[i] as number;
    both[i] = x & y;
    onlyA[i] = x & ~y;
    onlyB[i] = ~x & y;
    cBoth += POPCOUNT[both[i] as number] as number;
    cA += POPCOUNT[onlyA[i] as number] as number;
    cB += POPCOUNT[onlyB[i] as number] as number;
  }
  const shape = { rows: a.rows, cols: a.cols };
  const union = cBoth + cA + cB;
  return {
    both: { ...shape, bits: both },
    onlyA: { ...shape, bits: onlyA },
    onlyB: { ...shape, bits: onlyB },
    counts: { both: cBoth, onlyA: cA, onlyB: cB, neither: a.rows * a.cols - union },
    jaccard: union === 0 ? 1 : cBoth / union,
  };
}
