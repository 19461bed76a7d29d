// The sparsity microscope's arithmetic: a pruned matrix's kept/pruned mask (one bit per weight, as
// the worker packs it) turned into pixels. A 4096 × 11008 matrix has 45 M entries and a canvas
// about half a million pixels, so nothing is drawn per entry at overview zoom. One typed-array
// pass builds a pyramid of kept counts over 2^k × 2^k blocks (a mipmap of counts); a frame then
// reads, per pixel, the 1–3 blocks per axis of the level whose block is just below the pixel's
// footprint, weighted by overlap. That is exact when pixels align with blocks and never costs more
// than nine reads a pixel; zoomed past one pixel per entry, level 0 is the bits themselves.

export interface Mask {
  rows: number;
  cols: number;
  /** Bit i (LSB first within each byte) is entry i of the row-major matrix; set = kept. */
  bits: Uint8Array;
}

export function maskBit(mask: Mask, row: number, col: number): number {
  const i = row * mask.cols + col;
  return ((mask.bits[i >> 3] as number) >> (i & 7)) & 1;
}

export function countKept(bits: Uint8Array): number {
  let kept = 0;
  for (const b of bits) kept += POPCOUNT[b] as number;
  return kept;
}

/** Set bits of every byte value. */
export const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let v = b; v; v >>= 1) n += v & 1;
  return n;
});

type Counts = Uint8Array | Uint16Array | Uint32Array;

export interface PyramidLevel {
  /** Blocks of 2^level × 2^level entries (the last row and column of blocks may be partial). */
  rows: number;
  cols: number;
  counts: Counts;
}

export interface MaskAnalysis {
  mask: Mask;
  kept: number;
  /** Kept entries per row and per column. */
  rowKept: Uint32Array;
  colKept: Uint32Array;
  /** levels[0] is unused (the bits are level 0); levels[k] counts 2^k × 2^k blocks. */
  levels: PyramidLevel[];
}

function countsFor(level: number, size: number): Counts {
  // The largest count of a level is 4^level.
  if (level <= 3) return new Uint8Array(size);
  if (level <= 7) return new Uint16Array(size);
  return new Uint32Array(size);
}

/** One pass over the bits for level 1 and the row and column counts; each further level from the one below. */
export function analyzeMask(mask: Mask): MaskAnalysis {
  const { rows, cols, bits } = mask;
  const rowKept = new Uint32Array(rows);
  const colKept = new Uint32Array(cols);
  const r1 = Math.ceil(rows / 2);
  const c1 = Math.ceil(cols / 2);
  const level1 = countsFor(1, r1 * c1);
  let i = 0;
  let kept = 0;
  for (let r = 0; r < rows; r++) {
    const out = (r >> 1) * c1;
    let inRow = 0;
    for (let c = 0; c < cols; c++, i++) {
      if (((bits[i >> 3] as number) >> (i & 7)) & 1) {
        inRow++;
        (colKept[c] as number)++;
        (level1[out + (c >> 1)] as number)++;
      }
    }
    rowKept[r] = inRow;
    kept += inRow;
  }
  const levels: PyramidLevel[] = [
    { rows, cols, counts: new Uint8Array(0) },
    { rows: r1, cols: c1, counts: level1 },
  ];
  for (let k = 2; ; k++) {
    const below = levels[k - 1] as PyramidLevel;
    if (below.rows === 1 && below.cols === 1) break;
    const lr = Math.ceil(below.rows / 2);
    const lc = Math.ceil(below.cols / 2);
    const counts = countsFor(k, lr * lc);
    const src = below.counts;
    for (let r = 0; r < below.rows; r++) {
      const out = (r >> 1) * lc;
      const row = r * below.cols;
      for (let c = 0; c < below.cols; c++)
        counts[out + (c >> 1)] = (counts[out + (c >> 1)] as number) + (src[row + c] as number);
    }
    levels.push({ rows: lr, cols: lc, counts });
  }
  return { mask, kept, rowKept, colKept, levels };
}

/** Kept entries in block (by, bx) of a level (level 0: the entry itself). */
function blockCount(a: MaskAnalysis, level: number, by: number, bx: number): number {
  if (level === 0) {
    const i = by * a.mask.cols + bx;
    return ((a.mask.bits[i >> 3] as number) >> (i & 7)) & 1;
  }
  const l = a.levels[level] as PyramidLevel;
  return l.counts[by * l.cols + bx] as number;
}

/** The part of the matrix a canvas shows: entry (x, y) at its top-left corner, `scale` entries per pixel. */
export interface View {
  x: number;
  y: number;
  scale: number;
}

/** Which blocks of size `block` one pixel covers along an axis, and the fraction of each block covered. */
interface Spans {
  first: Int32Array;
  count: Uint8Array;
  /** Up to 4 fractions per pixel. */
  fraction: Float32Array;
  /** Entries of the matrix the pixel covers along this axis (0 outside). */
  covered: Float32Array;
}

function spans(origin: number, scale: number, pixels: number, block: number, length: number): Spans {
  const out: Spans = {
    first: new Int32Array(pixels),
    count: new Uint8Array(pixels),
    fraction: new Float32Array(pixels * 4),
    covered: new Float32Array(pixels),
  };
  for (let p = 0; p < pixels; p++) {
    const a = Math.max(0, origin + p * scale);
    const e = Math.min(length, origin + (p + 1) * scale);
    if (e <= a) continue;
    const b0 = Math.floor(a / block);
    const b1 = Math.min(Math.ceil(e / block), Math.ceil(length / block)) - 1;
    out.first[p] = b0;
    out.count[p] = Math.min(4, b1 - b0 + 1);
    out.covered[p] = e - a;
    for (let k = 0; k < (out.count[p] as number); k++) {
      const start = (b0 + k) * block;
      const end = Math.min(start + block, length);
      out.fraction[p * 4 + k] = (Math.min(e, end) - Math.max(a, start)) / (end - start);
    }
  }
  return out;
}

/** The pyramid level whose blocks are the largest not larger than a pixel's footprint. */
export function levelFor(a: MaskAnalysis, scale: number): number {
  if (scale < 2) return 0;
  return Math.min(a.levels.length - 1, Math.floor(Math.log2(scale)));
}

/**
 * Density of kept entries per pixel (row-major, width × height), NaN where the pixel shows no
 * entry. At most nine pyramid reads a pixel.
 */
export function densityImage(a: MaskAnalysis, view: View, width: number, height: number): Float32Array {
  const level = levelFor(a, view.scale);
  const block = 2 ** level;
  const xs = spans(view.x, view.scale, width, block, a.mask.cols);
  const ys = spans(view.y, view.scale, height, block, a.mask.rows);
  const out = new Float32Array(width * height).fill(Number.NaN);
  for (let py = 0; py < height; py++) {
    const ny = ys.count[py] as number;
    if (ny === 0) continue;
    const by0 = ys.first[py] as number;
    for (let px = 0; px < width; px++) {
      const nx = xs.count[px] as number;
      if (nx === 0) continue;
      const bx0 = xs.first[px] as number;
      let kept = 0;
      for (let j = 0; j < ny; j++) {
        const fy = ys.fraction[py * 4 + j] as number;
        for (let k = 0; k < nx; k++)
          kept += blockCount(a, level, by0 + j, bx0 + k) * fy * (xs.fraction[px * 4 + k] as number);
      }
      out[py * width + px] = kept / ((xs.covered[px] as number) * (ys.covered[py] as number));
    }
  }
  return out;
}

/** Mean density of the entries each pixel covers along one axis (a row or column strip), NaN outside. */
export function stripDensity(
  kept: Uint32Array,
  across: number,
  origin: number,
  scale: number,
  pixels: number,
): Float32Array {
  const prefix = new Float64Array(kept.length + 1);
  for (let i = 0; i < kept.length; i++) prefix[i + 1] = (prefix[i] as number) + (kept[i] as number);
  const at = (x: number) => {
    // Linear inside an entry, so fractional pixel edges weigh partial entries.
    const i = Math.floor(x);
    const f = x - i;
    return (prefix[i] as number) + f * (kept[i] ?? 0);
  };
  const out = new Float32Array(pixels).fill(Number.NaN);
  for (let p = 0; p < pixels; p++) {
    const a = Math.max(0, origin + p * scale);
    const e = Math.min(kept.length, origin + (p + 1) * scale);
    if (e > a) out[p] = (at(e) - at(a)) / ((e - a) * across);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// N:M groups

export interface NmCheck {
  n: number;
  m: number;
  groups: number;
  invalid: number;
  /** Entries of invalid groups set: drawn through its own pyramid. */
  invalidMask: Mask;
}

/** Groups of M consecutive entries along each row; a group is valid when it keeps at most N. */
export function checkNm(mask: Mask, n: number, m: number): NmCheck {
  const { rows, cols, bits } = mask;
  const invalidBits = new Uint8Array(bits.length);
  const perRow = Math.ceil(cols / m);
  let invalid = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < perRow; g++) {
      const start = r * cols + g * m;
      const end = r * cols + Math.min(cols, (g + 1) * m);
      let kept = 0;
      for (let i = start; i < end; i++) kept += ((bits[i >> 3] as number) >> (i & 7)) & 1;
      if (kept > n) {
        invalid++;
        for (let i = start; i < end; i++)
          invalidBits[i >> 3] = (invalidBits[i >> 3] as number) | (1 << (i & 7));
      }
    }
  }
  return { n, m, groups: rows * perRow, invalid, invalidMask: { rows, cols, bits: invalidBits } };
}

// ---------------------------------------------------------------------------------------------
// Colours

export type Rgb = readonly [number, number, number];

export const COLORS = {
  pruned: [244, 246, 249] as Rgb,
  kept: [31, 78, 121] as Rgb,
  valid: [26, 127, 55] as Rgb,
  invalid: [196, 49, 43] as Rgb,
  validPruned: [230, 244, 234] as Rgb,
  invalidPruned: [253, 220, 217] as Rgb,
  both: [59, 67, 80] as Rgb,
  onlyA: [217, 130, 43] as Rgb,
  onlyB: [31, 111, 178] as Rgb,
  neither: [250, 250, 251] as Rgb,
  outside: [232, 235, 239] as Rgb,
};

const CHANNELS = [0, 1, 2] as const;

/** Writes a + (b − a)·t as an opaque pixel; no allocation, as this runs for every pixel of a frame. */
function putMix(rgba: Uint8ClampedArray, i: number, a: Rgb, b: Rgb, t: number) {
  const o = 4 * i;
  rgba[o] = a[0] + (b[0] - a[0]) * t;
  rgba[o + 1] = a[1] + (b[1] - a[1]) * t;
  rgba[o + 2] = a[2] + (b[2] - a[2]) * t;
  rgba[o + 3] = 255;
}

/** Kept density as colour: pale for pruned, dark blue for kept. */
export function paintMask(density: Float32Array, rgba: Uint8ClampedArray): void {
  for (let i = 0; i < density.length; i++) {
    const d = density[i] as number;
    if (Number.isNaN(d)) putMix(rgba, i, COLORS.outside, COLORS.outside, 0);
    else putMix(rgba, i, COLORS.pruned, COLORS.kept, d);
  }
}

/** N:M: kept entries green in valid groups and red in invalid ones, pruned entries a pale tint of the same. */
export function paintNm(density: Float32Array, invalidFraction: Float32Array, rgba: Uint8ClampedArray): void {
  const { valid, invalid, validPruned, invalidPruned } = COLORS;
  for (let i = 0; i < density.length; i++) {
    const d = density[i] as number;
    if (Number.isNaN(d)) {
      putMix(rgba, i, COLORS.outside, COLORS.outside, 0);
      continue;
    }
    const f = invalidFraction[i] as number;
    const o = 4 * i;
    for (const k of CHANNELS) {
      const kept = valid[k] + (invalid[k] - valid[k]) * f;
      const pruned = validPruned[k] + (invalidPruned[k] - validPruned[k]) * f;
      rgba[o + k] = pruned + (kept - pruned) * d;
    }
    rgba[o + 3] = 255;
  }
}

/** Difference of two masks from the densities of its three classes; the rest is "neither". */
export function paintDiff(
  both: Float32Array,
  onlyA: Float32Array,
  onlyB: Float32Array,
  rgba: Uint8ClampedArray,
): void {
  const { both: cb, onlyA: ca, onlyB: co, neither: cn } = COLORS;
  for (let i = 0; i < both.length; i++) {
    const b = both[i] as number;
    if (Number.isNaN(b)) {
      putMix(rgba, i, COLORS.outside, COLORS.outside, 0);
      continue;
    }
    const a = onlyA[i] as number;
    const o = onlyB[i] as number;
    const n = Math.max(0, 1 - a - b - o);
    const at = 4 * i;
    for (const k of CHANNELS) rgba[at + k] = b * cb[k] + a * ca[k] + o * co[k] + n * cn[k];
    rgba[at + 3] = 255;
  }
}
