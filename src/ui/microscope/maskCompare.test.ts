import { describe, expect, it } from 'vitest';
import { diffMasks, jaccard, MaskShapeError } from './maskCompare';
import { type Mask, maskBit } from './maskGrid';

function randomMask(rows: number, cols: number, keep: number, seed: number): Mask {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const bits = new Uint8Array(Math.ceil((rows * cols) / 8));
  for (let i = 0; i < rows * cols; i++)
    if (next() < keep) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
  return { rows, cols, bits };
}

describe('comparing two masks', () => {
  it('counts the classes and the Jaccard index as entry-by-entry counting does', () => {
    for (const [rows, cols, seed] of [
      [1, 1, 1],
      [7, 13, 2],
      [64, 172, 3],
      [31, 17, 4],
    ] as const) {
      const a = randomMask(rows, cols, 0.5, seed);
      const b = randomMask(rows, cols, 0.4, seed + 100);
      const counts = { both: 0, onlyA: 0, onlyB: 0, neither: 0 };
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const x = maskBit(a, r, c);
          const y = maskBit(b, r, c);
          if (x && y) counts.both++;
          else if (x) counts.onlyA++;
          else if (y) counts.onlyB++;
          else counts.neither++;
        }
      const diff = diffMasks(a, b);
      expect(diff.counts).toEqual(counts);
      const union = counts.both + counts.onlyA + counts.onlyB;
      const expected = union === 0 ? 1 : counts.both / union;
      expect(diff.jaccard).toBeCloseTo(expected, 12);
      expect(jaccard(a, b)).toBe(diff.jaccard);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++)
          expect(maskBit(diff.onlyA, r, c)).toBe(maskBit(a, r, c) & (1 - maskBit(b, r, c)));
    }
  });

  it('is 1 for identical masks, 0 for disjoint ones, and refuses different shapes', () => {
    const a = randomMask(9, 9, 0.5, 7);
    expect(jaccard(a, a)).toBe(1);
    const complement = { ...a, bits: a.bits.map((b) => ~b & 0xff) };
    // The complement also sets the unused bits of the last byte; clear them.
    complement.bits[complement.bits.length - 1] = (complement.bits.at(-1) as number) & 1;
    expect(jaccard(a, complement)).toBe(0);
    const empty = { rows: 9, cols: 9, bits: new Uint8Array(11) };
    expect(jaccard(empty, empty)).toBe(1);
    expect(() => jaccard(a, { rows: 3, cols: 27, bits: a.bits })).toThrow(MaskShapeError);
  });
});
