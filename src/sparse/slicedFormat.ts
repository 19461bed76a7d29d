// A second unstructured format, made for the matrix–vector product on CPU adapters: sliced ELL
// with 4-bit column steps. Rows are taken 8 at a time (a slice, one invocation of slicedMatvec);
// each row lists its stored entries in column order, and the slice is padded to its longest row, so
// the 8 rows step through their entries in lockstep with no branch. Slot k of a slice holds one
// entry of each of its 8 rows: 8 f32 values (values[8k .. 8k + 8), row j at 8k + j) and one u32
// (steps[k]) whose 4-bit field j is how many columns row j moves forward to reach its entry (a row
// starts at column 0). A gap of more than 15 columns is bridged by entries of value +0 that step 15;
// a row shorter than its slice ends in entries of value +0 that step 0. +0 is never a stored value
// (formatError.ts: −0 is), so decoding skips every +0 and gives back the matrix bit for bit.
// sliceStarts[s] is slice s's first slot (slices + 1 entries, the last = the number of slots).
//
// Bytes: 4 · (slices + 1) + 36 · slots. At 50 % random sparsity the padding (the longest of 8 rows
// against their mean, and the rare bridges) adds 3–10 % to the stored values, so it comes to
// 2.30–2.37 bytes per element at OPT-125M's and LLaMA-7B's shapes, against the bitmask's 2.125
// (docs/sparse.md). What it buys is a regular decode: no bit walk, no divergent loop, one step
// word for 8 entries (bench/README.md, issue 15).

import { checkSparseShape, isStored, SparseFormatError } from './formatError';

/** Rows a slice holds: one invocation's rows in slicedMatvec. */
export const SLICE_ROWS = 8;
/** Bits of one row's column step in a slot's step word, and the longest step. */
const STEP_BITS = 4;
const MAX_STEP = (1 << STEP_BITS) - 1;

export interface SlicedMatrix {
  format: 'sliced';
  /** The tensor's name, for errors. */
  name: string;
  rows: number;
  cols: number;
  /** ⌈rows / 8⌉ + 1 slot indices: slice s holds slots sliceStarts[s] .. sliceStarts[s + 1]. */
  sliceStarts: Uint32Array;
  /** One word a slot: bits 4j .. 4j + 3 are row j's column step. */
  steps: Uint32Array;
  /** 8 a slot: row j's entry at 8k + j; +0 for padding. */
  values: Float32Array;
}

export function slicedSlices(rows: number): number {
  return Math.ceil(rows / SLICE_ROWS);
}

/** Exact bytes of a matrix of `rows` rows held in `slots` slots. */
export function slicedBytes(rows: number, slots: number): number {
  return 4 * (slicedSlices(rows) + 1) + 4 * (1 + SLICE_ROWS) * slots;
}

/** One row's entries: the column steps and the value bits, bridges included. */
function rowEntries(bits: Uint32Array, start: number, cols: number): { steps: number[]; values: number[] } {
  const steps: number[] = [];
  const values: number[] = [];
  let col = 0;
  for (let c = 0; c < cols; c++) {
    const b = bits[start + c] as number;
    if (!isStored(b)) continue;
    for (; c - col > MAX_STEP; col += MAX_STEP) {
      steps.push(MAX_STEP);
      values.push(0);
    }
    steps.push(c - col);
    values.push(b);
    col = c;
  }
  return { steps, values };
}

/** Encodes a row-major matrix, storing every entry whose bits are not +0 (−0 is stored). */
export function encodeSliced(name: string, dense: Float32Array, rows: number, cols: number): SlicedMatrix {
  checkSparseShape(name, rows, cols);
  if (dense.length !== rows * cols)
    throw new SparseFormatError(name, `${dense.length} elements do not make a ${rows}×${cols} matrix`);
  const bits = new Uint32Array(dense.buffer, dense.byteOffset, dense.length);
  const slices = slicedSlices(rows);
  const entries = Array.from({ length: rows }, (_, r) => rowEntries(bits, r * cols, cols));
  const sliceStarts = new Uint32Array(slices + 1);
  for (let s = 0; s < slices; s++) {
    let width = 0;
    for (let r = s * SLICE_ROWS; r < Math.min(rows, (s + 1) * SLICE_ROWS); r++)
      width = Math.max(width, (entries[r] as { steps: number[] }).steps.length);
    sliceStarts[s + 1] = (sliceStarts[s] as number) + width;
  }
  const slots = sliceStarts[slices] as number;
  const steps = new Uint32Array(slots);
  const values = new Float32Array(SLICE_ROWS * slots);
  const valueBits = new Uint32Array(values.buffer);
  for (let r = 0; r < rows; r++) {
    const row = entries[r] as { steps: number[]; values: number[] };
    const first = sliceStarts[Math.floor(r / SLICE_ROWS)] as number;
    const j = r % SLICE_ROWS;
    for (let k = 0; k < row.steps.length; k++) {
      steps[first + k] = (steps[first + k] as number) | ((row.steps[k] as number) << (STEP_BITS * j));
      valueBits[SLICE_ROWS * (first + k) + j] = row.values[k] as number;
    }
  }
  return { format: 'sliced', name, rows, cols, sliceStarts, steps, values };
}

/**
 * Visits every slot entry of every row (rows past the last included) with its column, throwing a
 * SparseFormatError naming the tensor where a row steps past the last column.
 */
function forEachEntry(
  matrix: SlicedMatrix,
  visit: (row: number, col: number, valueIndex: number) => void,
): void {
  const { name, cols, sliceStarts, steps } = matrix;
  for (let s = 0; s + 1 < sliceStarts.length; s++) {
    for (let j = 0; j < SLICE_ROWS; j++) {
      const row = s * SLICE_ROWS + j;
      let col = 0;
      for (let k = sliceStarts[s] as number; k < (sliceStarts[s + 1] as number); k++) {
        col += ((steps[k] as number) >>> (STEP_BITS * j)) & MAX_STEP;
        if (col >= cols)
          throw new SparseFormatError(
            name,
            `row ${row}, slot ${k}: its steps reach column ${col}, past the last column ${cols - 1}`,
          );
        visit(row, col, SLICE_ROWS * k + j);
      }
    }
  }
}

/**
 * Throws a SparseFormatError naming the tensor unless the arrays describe a valid matrix: lengths
 * that match the shape, slice starts that begin at 0, never decrease and end at the number of
 * slots, every row's steps staying inside the columns, no two stored values of a row at one column,
 * and no stored value in the rows a last partial slice pads with.
 */
export function validateSliced(matrix: SlicedMatrix): void {
  const { name, rows, cols, sliceStarts, steps, values } = matrix;
  checkSparseShape(name, rows, cols);
  const slices = slicedSlices(rows);
  if (sliceStarts.length !== slices + 1)
    throw new SparseFormatError(
      name,
      `${sliceStarts.length} slice starts, but ${rows} rows in slices of ${SLICE_ROWS} need ${slices + 1}`,
    );
  if (sliceStarts[0] !== 0)
    throw new SparseFormatError(name, `slice starts begin at ${sliceStarts[0]}, not 0`);
  for (let s = 0; s < slices; s++)
    if ((sliceStarts[s + 1] as number) < (sliceStarts[s] as number))
      throw new SparseFormatError(
        name,
        `slice ${s + 1} starts at slot ${sliceStarts[s + 1]}, before slice ${s} (${sliceStarts[s]})`,
      );
  if (sliceStarts[slices] !== steps.length)
    throw new SparseFormatError(
      name,
      `slice starts end at ${sliceStarts[slices]} but there are ${steps.length} slots`,
    );
  if (values.length !== SLICE_ROWS * steps.length)
    throw new SparseFormatError(
      name,
      `${values.length} values, but ${steps.length} slots of ${SLICE_ROWS} rows hold ${SLICE_ROWS * steps.length}`,
    );
  const valueBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let lastRow = -1;
  let lastStored = -1;
  forEachEntry(matrix, (row, col, i) => {
    if (row !== lastRow) [lastRow, lastStored] = [row, -1];
    if (!isStored(valueBits[i] as number)) return;
    if (row >= rows)
      throw new SparseFormatError(
        name,
        `row ${row}, past the last row ${rows - 1}, stores a value at column ${col}`,
      );
    if (col <= lastStored)
      throw new SparseFormatError(name, `row ${row}: a second stored value at column ${col}`);
    lastStored = col;
  });
}

/** The dense row-major matrix, bit for bit what was encoded. Validates first. */
export function decodeSliced(matrix: SlicedMatrix): Float32Array {
  validateSliced(matrix);
  const { rows, cols } = matrix;
  const dense = new Float32Array(rows * cols);
  const denseBits = new Uint32Array(dense.buffer);
  const valueBits = new Uint32Array(matrix.values.buffer, matrix.values.byteOffset, matrix.values.length);
  forEachEntry(matrix, (row, col, i) => {
    const b = valueBits[i] as number;
    if (isStored(b)) denseBits[row * cols + col] = b;
  });
  return dense;
}
