import { describe, expect, it } from 'vitest';
import {
  decodeHalves,
  encodeHalves,
  floatToBf16Bits,
  floatToHalfBits,
  type HalfDtype,
  halfIsFinite,
  halfToFloat,
} from './halfFloat';
import { freshSeed, Random } from './random';

const ALL_BITS = Uint16Array.from({ length: 65536 }, (_, i) => i);
const finiteBits = (dtype: HalfDtype) => ALL_BITS.filter((b) => halfIsFinite(dtype, b));

describe('16-bit float conversions', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype}: every finite bit pattern decodes and encodes back to itself`, () => {
      const bits = finiteBits(dtype);
      // All exponents but the all-ones one: F16 31 × 1024 mantissas × 2 signs, BF16 255 × 128 × 2.
      expect(bits.length).toBe(dtype === 'F16' ? 31 * 2048 : 255 * 256);
      const values = decodeHalves(dtype, bits);
      expect(values.every(Number.isFinite)).toBe(true);
      expect(encodeHalves(dtype, values, 't')).toEqual(bits);
    });

    it(`${dtype}: random f32 values round to the nearest value, ties to the even one`, () => {
      const seed = freshSeed();
      const random = new Random(seed);
      // Magnitudes across the formats' normal and subnormal ranges.
      const scale = dtype === 'F16' ? 16 : 60;
      const values = random.uniform(5000, -1, 1).map((v, i) => v * 2 ** (((i * 7919) % (2 * scale)) - scale));
      // The plain rounding, without encodeHalves' keep-nonzero rule (tested below).
      const encode = dtype === 'F16' ? floatToHalfBits : floatToBf16Bits;
      const decoded = decodeHalves(dtype, Uint16Array.from(values, encode));
      const sorted = decodeHalves(dtype, finiteBits(dtype))
        .filter((v) => !Object.is(v, -0))
        .sort();
      for (const [i, v] of values.entries()) {
        const got = decoded[i] as number;
        // The neighbours of the result on the format's grid: none is nearer to v.
        const at = sorted.indexOf(got === 0 ? 0 : got);
        for (const neighbour of [sorted[at - 1], sorted[at + 1]]) {
          if (neighbour === undefined) continue;
          const mine = Math.abs(v - got);
          const theirs = Math.abs(v - neighbour);
          expect(mine <= theirs, `seed ${seed}: ${v} → ${got}, ${neighbour} is nearer`).toBe(true);
        }
      }
    });
  }

  it('breaks ties to the even mantissa and rounds up past the largest F16 to infinity', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: the even one is 1. 1 + 3·2^-11 goes up.
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalfBits(65504)).toBe(0x7bff);
    expect(floatToHalfBits(65519)).toBe(0x7bff);
    expect(floatToHalfBits(65520)).toBe(0x7c00);
    // Subnormals: 2^-24 is the smallest; half of it is a tie that goes to zero (even).
    expect(floatToHalfBits(2 ** -24)).toBe(1);
    expect(floatToHalfBits(-3 * 2 ** -25)).toBe(0x8002);
    expect(floatToHalfBits(2 ** -25)).toBe(0);
    expect(halfToFloat(0x03ff)).toBe(1023 * 2 ** -24);
    // BF16: 1 + 2^-8 ties to 1; 1 + 3·2^-8 goes up to 1 + 2^-6.
    expect(floatToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(floatToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(floatToBf16Bits(-2)).toBe(0xc000);
  });

  it('keeps zeros zero and nonzero values nonzero, and refuses what the format cannot hold', () => {
    const values = Float32Array.of(0, -0, 1e-9, -1e-9, 2 ** -140);
    expect([...encodeHalves('F16', values, 't')]).toEqual([0, 0x8000, 1, 0x8001, 1]);
    expect([...encodeHalves('BF16', values, 't')].slice(0, 2)).toEqual([0, 0x8000]);
    expect(encodeHalves('BF16', values, 't')[4]).toBe(1);
    expect(() => encodeHalves('F16', Float32Array.of(1, 70000), 'w')).toThrow(
      /tensor w: element 1 = 70000 is beyond the range of F16/,
    );
    expect(() => encodeHalves('BF16', Float32Array.of(Number.NaN), 'w')).toThrow(/element 0 is NaN/);
  });
});
