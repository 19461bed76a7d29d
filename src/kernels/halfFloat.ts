// Conversions between f32 and the two 16-bit float formats checkpoints use. F16 is IEEE binary16
// (5 exponent bits, 10 mantissa bits); BF16 is the top half of an f32 (8 exponent bits, 7 mantissa
// bits). Decoding is exact: every F16 and BF16 value is an f32. Encoding rounds to nearest, ties to
// even, as PyTorch's .half() and .bfloat16() do, so a value that came from the format (an untouched
// weight) encodes back to its own bits.

export type HalfDtype = 'F16' | 'BF16';

/** The f32 value of F16 bits. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Whether 16-bit float bits hold a finite value (the exponent field is not all ones). */
export function halfIsFinite(dtype: HalfDtype, bits: number): boolean {
  return dtype === 'F16' ? (bits & 0x7c00) !== 0x7c00 : (bits & 0x7f80) !== 0x7f80;
}

export function decodeHalves(dtype: HalfDtype, halves: Uint16Array): Float32Array {
  const out = new Float32Array(halves.length);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < halves.length; i++) bits[i] = (halves[i] as number) << 16;
  } else {
    for (let i = 0; i < halves.length; i++) out[i] = halfToFloat(halves[i] as number);
  }
  return out;
}

/**
 * Rounds f32 values to 16-bit bits, nearest even. Two departures from plain rounding, both so that a
 * pruned model survives the trip: a nonzero value too small for the format becomes its smallest
 * subnormal of the same sign instead of zero (a weight the pruner kept must stay kept: the zero
 * pattern is the product), and a value beyond the format's range is an error naming the tensor,
 * not an infinity written to disk.
 */
export function encodeHalves(dtype: HalfDtype, values: Float32Array, tensor: string): Uint16Array {
  const out = new Uint16Array(values.length);
  const encode = dtype === 'F16' ? floatToHalfBits : floatToBf16Bits;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v))
      throw new RangeError(`tensor ${tensor}: element ${i} is ${v}, which ${dtype} cannot hold`);
    let bits = encode(v);
    if (!halfIsFinite(dtype, bits)) {
      throw new RangeError(`tensor ${tensor}: element ${i} = ${v} is beyond the range of ${dtype}`);
    }
    if ((bits & 0x7fff) === 0 && v !== 0) bits |= 1;
    out[i] = bits;
  }
  return out;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** Rounds a finite f32 to F16 bits, nearest even; values from 65520 up round to infinity. */
export function floatToHalfBits(value: number): number {
  scratch[0] = value;
  const f = scratchBits[0] as number;
  const sign = (f >>> 16) & 0x8000;
  const magnitude = Math.abs(scratch[0] as number);
  // At or above 2^-14 the value is normal in F16: 10 fraction bits below its leading one. Below it,
  // the F16 grid is uniform with step 2^-24. Either way the value is a multiple of `step` after
  // rounding; the exponent comes from the f32 bits, which are normal over this whole range.
  const exponent = ((f >>> 23) & 0xff) - 127;
  const step = 2 ** (Math.max(exponent, -14) - 10);
  const rounded = roundHalfEven(magnitude / step) * step;
  if (rounded >= 65536) return sign | 0x7c00;
  if (rounded < 2 ** -14) return sign | (rounded / 2 ** -24);
  // Rounding may have carried into the next power of two, so the exponent is re-read from the result.
  scratch[0] = rounded;
  const e = (((scratchBits[0] as number) >>> 23) & 0xff) - 127;
  return sign | ((e + 15) << 10) | ((rounded / 2 ** e - 1) * 1024);
}

/** Rounds a finite f32 to BF16 bits, nearest even (on the f32 bits: BF16 is their top half). */
export function floatToBf16Bits(value: number): number {
  scratch[0] = value;
  const f = scratchBits[0] as number;
  return ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Nearest integer, ties to even (Math.round ties upward). */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
