import { describe, expect, it } from 'vitest';
import {
  analyzeMask,
  checkNm,
  countKept,
  densityImage,
  levelFor,
  type Mask,
  maskBit,
  stripDensity,
} from './maskGrid';

function maskOf(rows: number, cols: number, kept: (r: number, c: number) => boolean): Mask {
  const bits = new Uint8Array(Math.ceil((rows * cols) / 8));
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (kept(r, c)) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
    }
  return { rows, cols, bits };
}

/** A deterministic, uneven pattern. */
const pattern = (r: number, c: number) => (r * 31 + c * 17 + ((r * c) % 7)) % 5 < 2 || (r < 3 && c % 2 === 0);

function boxDensity(mask: Mask, r0: number, r1: number, c0: number, c1: number): number {
  let kept = 0;
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) kept += maskBit(mask, r, c);
  return kept / ((r1 - r0) * (c1 - c0));
}

describe('mask pyramid', () => {
  it('counts rows, columns and every level as entry-by-entry counting does', () => {
    for (const [rows, cols] of [
      [1, 1],
      [5, 9],
      [64, 172],
      [33, 65],
    ] as const) {
      const mask = maskOf(rows, cols, pattern);
      const a = analyzeMask(mask);
      expect(a.kept).toBe(countKept(mask.bits));
      for (let r = 0; r < rows; r++) expect(a.rowKept[r]).toBe(boxDensity(mask, r, r + 1, 0, cols) * cols);
      for (let c = 0; c < cols; c++)
        expect(a.colKept[c]).toBeCloseTo(boxDensity(mask, 0, rows, c, c + 1) * rows, 9);
      for (let k = 1; k < a.levels.length; k++) {
        const l = a.levels[k];
        if (!l) continue;
        const b = 2 ** k;
        for (let by = 0; by < l.rows; by++)
          for (let bx = 0; bx < l.cols; bx++) {
            const r1 = Math.min(rows, (by + 1) * b);
            const c1 = Math.min(cols, (bx + 1) * b);
            const exact = boxDensity(mask, by * b, r1, bx * b, c1) * (r1 - by * b) * (c1 - bx * b);
            expect(l.counts[by * l.cols + bx], `level ${k} block ${by},${bx}`).toBeCloseTo(exact, 9);
          }
      }
      const top = a.levels.at(-1);
      if (a.levels.length > 1) expect(top?.counts[0]).toBe(a.kept);
    }
  });

  it('renders exact box densities when pixels align with blocks, and exact entries when zoomed in', () => {
    const mask = maskOf(64, 172, pattern);
    const a = analyzeMask(mask);
    // 4 entries a pixel: level 2, aligned.
    const img = densityImage(a, { x: 0, y: 0, scale: 4 }, 43, 16);
    expect(levelFor(a, 4)).toBe(2);
    for (let py = 0; py < 16; py++)
      for (let px = 0; px < 43; px++)
        expect(img[py * 43 + px]).toBeCloseTo(boxDensity(mask, 4 * py, 4 * py + 4, 4 * px, 4 * px + 4), 6);
    // 6 entries a pixel (level 2, not aligned): still the exact box average? only approximately.
    const odd = densityImage(a, { x: 0, y: 0, scale: 6 }, 10, 10);
    expect(odd[0]).toBeGreaterThanOrEqual(0);
    expect(odd[0]).toBeLessThanOrEqual(1);
    // Zoomed in: 4 pixels an entry, every pixel is its entry's bit.
    const near = densityImage(a, { x: 10, y: 20, scale: 0.25 }, 40, 40);
    for (let py = 0; py < 40; py++)
      for (let px = 0; px < 40; px++)
        expect(near[py * 40 + px]).toBe(maskBit(mask, 20 + Math.floor(py / 4), 10 + Math.floor(px / 4)));
    // Past the matrix: NaN.
    const off = densityImage(a, { x: -10, y: 0, scale: 1 }, 20, 1);
    expect(Number.isNaN(off[0])).toBe(true);
    expect(off[15]).toBe(maskBit(mask, 0, 5));
  });

  it('averages row and column strips over what each pixel covers', () => {
    const mask = maskOf(8, 12, (r, c) => c < 6 || r === 0);
    const a = analyzeMask(mask);
    const cols = stripDensity(a.colKept, 8, 0, 3, 4);
    expect([...cols]).toEqual([1, 1, 1 / 8, 1 / 8]);
    const half = stripDensity(a.colKept, 8, 4.5, 3, 1);
    expect(half[0]).toBeCloseTo((1.5 * 1 + 1.5 * (1 / 8)) / 3, 6);
    const rows = stripDensity(a.rowKept, 12, 0, 1, 9);
    expect(rows[0]).toBe(1);
    expect(rows[1]).toBe(0.5);
    expect(Number.isNaN(rows[8])).toBe(true);
  });
});

describe('N:M groups', () => {
  it('finds groups that keep more than N, and marks their entries', () => {
    const twoFour = maskOf(3, 8, (_, c) => c % 4 < 2);
    expect(checkNm(twoFour, 2, 4)).toMatchObject({ groups: 6, invalid: 0 });
    const broken = maskOf(3, 8, (r, c) => c % 4 < 2 || (r === 1 && c === 6));
    const check = checkNm(broken, 2, 4);
    expect(check.invalid).toBe(1);
    for (let c = 0; c < 8; c++) expect(maskBit(check.invalidMask, 1, c)).toBe(c >= 4 ? 1 : 0);
    expect(countKept(check.invalidMask.bits)).toBe(4);
    // Fewer than N kept is still valid (dead inputs).
    expect(
      checkNm(
        maskOf(2, 4, () => false),
        2,
        4,
      ).invalid,
    ).toBe(0);
  });
});
