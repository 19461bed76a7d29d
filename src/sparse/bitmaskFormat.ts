// Unstructured sparse matrices in compressed form: per row a bitmask (bit c % 32 of word c / 32 set
// when column c is stored), the stored values packed row after row, and rowOffsets[r] = the index of
// row r's first value (rows + 1 entries, the last = the number of values), so a row's values are
// found without counting the bits of the rows before it.
//
// Bytes: 4 · rows · ⌈cols / 32⌉ + 4 · stored + 4 · (rows + 1); per element at density d (stored /
// elements) that is 1/8 + 4d, against 4 dense: 2.125 bytes (53%) at 50% sparsity, 0.925 at 80%.
// CSR with u16 column indices (6d per element, cols ≤ 65536) is smaller only when 6d < 1/8 + 4d,
// that is d < 1/16 (sparsity above 93.75%), far beyond what pruning a language model keeps; so this
// format is the only unstructured one (csrU16Bytes is here for the comparison in docs and tests).

import { checkSparseShape, isStored, SparseFormatError } from './formatError';

export interface BitmaskMatrix {
  format: 'bitmask';
  /** The tensor's name, for errors. */
  name: string;
  rows: number;
  cols: number;
  /** rows · ⌈cols / 32⌉ words; bits past the last column are zero. */
  mask: Uint32Array;
  /** The stored values, row by row, ascending column within a row. */
  values: Float32Array;
  /** rows + 1 offsets into values: row r holds values[rowOffsets[r] .. rowOffsets[r + 1]). */
  rowOffsets: Uint32Array;
}

export function bitmaskWordsPerRow(cols: number): number {
  return Math.ceil(cols / 32);
}

/** Exact bytes of a rows × cols matrix with `stored` values in the bitmask format. */
export function bitmaskBytes(rows: number, cols: number, stored: number): number {
  return 4 * (rows * bitmaskWordsPerRow(cols) + stored + rows + 1);
}

/** Bytes the same matrix would take as CSR with u16 column indices and u32 row offsets. */
export function csrU16Bytes(rows: number, stored: number): number {
  return 6 * stored + 4 * (rows + 1);
}

/** Bits set in a u32. */
export function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
}

/** Encodes a row-major matrix, storing every entry whose bits are not +0 (−0 is stored). */
export function encodeBitmask(name: string, dense: Float32Array, rows: number, cols: number): BitmaskMatrix {
  checkSparseShape(name, rows, cols);
  if (dense.length !== rows * cols)
    throw new SparseFormatError(name, `${dense.length} elements do not make a ${rows}×${cols} matrix`);
  const bits = new Uint32Array(dense.buffer, dense.byteOffset, dense.length);
  const words = bitmaskWordsPerRow(cols);
  const mask = new Uint32Array(rows * words);
  const rowOffsets = new Uint32Array(rows + 1);
  let stored = 0;
  for (let i = 0; i < bits.length; i++) if (isStored(bits[i] as number)) stored++;
  const values = new Float32Array(stored);
  const valueBits = new Uint32Array(values.buffer);
  let next = 0;
  for (let r = 0; r < rows; r++) {
    rowOffsets[r] = next;
    for (let c = 0; c < cols; c++) {
      const b = bits[r * cols + c] as number;
      if (!isStored(b)) continue;
      const word = r * words + (c >>> 5);
      mask[word] = (mask[word] as number) | (1 << (c & 31));
      valueBits[next++] = b;
    }
  }
  rowOffsets[rows] = next;
  return { format: 'bitmask', name, rows, cols, mask, values, rowOffsets };
}

/**
 * Throws a SparseFormatError naming the tensor unless the arrays describe a valid matrix: lengths
 * that match the shape, no mask bits past the last column, and row offsets that start at 0 and step
 * by each row's popcount to the number of values.
 */
export function validateBitmask(matrix: BitmaskMatrix): void {
  const { name, rows, cols, mask, values, rowOffsets } = matrix;
  checkSparseShape(name, rows, cols);
  const words = bitmaskWordsPerRow(cols);
  if (mask.length !== rows * words)
    throw new SparseFormatError(
      name,
      `${mask.length} mask words, but a ${rows}×${cols} matrix has ${rows * words}`,
    );
  if (rowOffsets.length !== rows + 1)
    throw new SparseFormatError(name, `${rowOffsets.length} row offsets, but ${rows} rows need ${rows + 1}`);
  const tailBits = cols % 32;
  if (rowOffsets[0] !== 0) throw new SparseFormatError(name, `row offsets start at ${rowOffsets[0]}, not 0`);
  for (let r = 0; r < rows; r++) {
    let count = 0;
    for (let w = 0; w < words; w++) count += popcount(mask[r * words + w] as number);
    const last = mask[r * words + words - 1] as number;
    if (tailBits !== 0 && last >>> tailBits !== 0)
      throw new SparseFormatError(name, `row ${r}: mask bits set past column ${cols - 1}`);
    const step = (rowOffsets[r + 1] as number) - (rowOffsets[r] as number);
    if (step !== count)
      throw new SparseFormatError(
        name,
        `row ${r}: its mask has ${count} bits set but its row offsets ${rowOffsets[r]}–${rowOffsets[r + 1]} hold ${step} values`,
      );
  }
  if (rowOffsets[rows] !== values.length)
    throw new SparseFormatError(
      name,
      `row offsets end at ${rowOffsets[rows]} but there are ${values.length} values`,
    );
}

/** The dense row-major matrix, bit for bit what was encoded. Validates first. */
export function decodeBitmask(matrix: BitmaskMatrix): Float32Array {
  validateBitmask(matrix);
  const { rows, cols, mask } = matrix;
  const words = bitmaskWordsPerRow(cols);
  const dense = new Float32Array(rows * cols);
  const denseBits = new Uint32Array(dense.buffer);
  const valueBits = new Uint32Array(matrix.values.buffer, matrix.values.byteOffset, matrix.values.length);
  for (let r = 0; r < rows; r++) {
    let next = matrix.rowOffsets[r] as number;
    for (let c = 0; c < cols; c++) {
      if (((mask[r * words + (c >>> 5)] as number) >>> (c & 31)) & 1)
        denseBits[r * cols + c] = valueBits[next++] as number;
    }
  }
  return dense;
}
