// N:M sparse matrices in compressed form: every row is cut into groups of m consecutive columns, and
// each group stores exactly n values (f32) and their in-group indices. The indices are packed into
// u32 words, ⌈log2 m⌉ bits each and ⌊32 / bits⌋ per word (16 per word for m = 4), never straddling
// two words so a kernel finds index k with one shift; each row's indices start on a fresh word so a
// row's data is found from its number alone. A group with fewer than n stored entries keeps explicit
// zeros at its lowest free columns, so any matrix that satisfies the N:M mask encodes exactly.
//
// Bytes (f32 values): rows · (4 · keptPerRow + 4 · ⌈keptPerRow / perWord⌉), keptPerRow = cols / m · n.
// For 2:4 with cols a multiple of 32: per group of 4 columns, 2 · 4 bytes of values and 2 · 2 bits of
// indices = 8.5 bytes instead of dense's 16 (53%).

import { checkSparseShape, isStored, SparseFormatError } from './formatError';

export interface NmMatrix {
  format: 'nm';
  /** The tensor's name, for errors. */
  name: string;
  rows: number;
  cols: number;
  /** Values kept per group. */
  n: number;
  /** Columns per group; divides cols. */
  m: number;
  /** rows · keptPerRow values: row by row, group by group, ascending column within a group. */
  values: Float32Array;
  /** rows · indexWordsPerRow words; kept entry k of a row has its index at word k / perWord, bit (k % perWord) · bits. */
  indices: Uint32Array;
}

/** The largest group the format packs (4-bit indices; the sparse kernels read up to 16 as well). */
export const NM_FORMAT_MAX_M = 16;

/** Bits of one in-group index: ⌈log2 m⌉. */
export function nmIndexBits(m: number): number {
  return 32 - Math.clz32(m - 1);
}

/** Indices per u32 word; an index never straddles two words. */
export function nmIndicesPerWord(m: number): number {
  return Math.floor(32 / nmIndexBits(m));
}

export function nmKeptPerRow(cols: number, n: number, m: number): number {
  return (cols / m) * n;
}

export function nmIndexWordsPerRow(cols: number, n: number, m: number): number {
  return Math.ceil(nmKeptPerRow(cols, n, m) / nmIndicesPerWord(m));
}

/** Exact bytes of a rows × cols N:M matrix: values plus packed indices. */
export function nmBytes(rows: number, cols: number, n: number, m: number): number {
  return rows * 4 * (nmKeptPerRow(cols, n, m) + nmIndexWordsPerRow(cols, n, m));
}

/** Throws unless rows × cols with n:m is a shape the format holds. */
export function checkNmShape(name: string, rows: number, cols: number, n: number, m: number): void {
  checkSparseShape(name, rows, cols);
  if (!Number.isInteger(m) || m < 2 || m > NM_FORMAT_MAX_M)
    throw new SparseFormatError(name, `N:M needs 2 ≤ m ≤ ${NM_FORMAT_MAX_M}, got m = ${m}`);
  if (!Number.isInteger(n) || n < 1 || n >= m)
    throw new SparseFormatError(name, `N:M needs 1 ≤ n < m, got ${n}:${m}`);
  if (cols % m !== 0)
    throw new SparseFormatError(name, `${n}:${m} needs the ${cols} columns to be a multiple of ${m}`);
}

/**
 * Encodes a row-major rows × cols matrix. An entry is stored when its bits are not +0 (−0 is a
 * value, so decoding gives back the same bits); a group with more than n of them is an error naming
 * the row and the group.
 */
export function encodeNm(
  name: string,
  dense: Float32Array,
  rows: number,
  cols: number,
  n: number,
  m: number,
): NmMatrix {
  checkNmShape(name, rows, cols, n, m);
  if (dense.length !== rows * cols)
    throw new SparseFormatError(name, `${dense.length} elements do not make a ${rows}×${cols} matrix`);
  const bits = new Uint32Array(dense.buffer, dense.byteOffset, dense.length);
  const kept = nmKeptPerRow(cols, n, m);
  const perWord = nmIndicesPerWord(m);
  const indexBits = nmIndexBits(m);
  const wordsPerRow = nmIndexWordsPerRow(cols, n, m);
  const values = new Float32Array(rows * kept);
  const valueBits = new Uint32Array(values.buffer);
  const indices = new Uint32Array(rows * wordsPerRow);
  const chosen: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols / m; g++) {
      const first = r * cols + g * m;
      chosen.length = 0;
      for (let j = 0; j < m; j++) if (isStored(bits[first + j] as number)) chosen.push(j);
      if (chosen.length > n)
        throw new SparseFormatError(
          name,
          `row ${r}, group ${g} (columns ${g * m}–${g * m + m - 1}) has ${chosen.length} nonzeros, more than ${n}:${m} allows`,
        );
      // Explicit zeros at the lowest free columns, then ascending order.
      for (let j = 0; chosen.length < n; j++) if (!chosen.includes(j)) chosen.push(j);
      chosen.sort((a, b) => a - b);
      for (let s = 0; s < n; s++) {
        const k = g * n + s;
        const j = chosen[s] as number;
        valueBits[r * kept + k] = bits[first + j] as number;
        const word = r * wordsPerRow + Math.floor(k / perWord);
        indices[word] = (indices[word] as number) | (j << ((k % perWord) * indexBits));
      }
    }
  }
  return { format: 'nm', name, rows, cols, n, m, values, indices };
}

/**
 * Throws a SparseFormatError naming the tensor unless the arrays describe a valid matrix: lengths
 * that match the shape, indices below m, strictly ascending (so distinct) within a group, and unused
 * bits of each row's last index word zero.
 */
export function validateNm(matrix: NmMatrix): void {
  const { name, rows, cols, n, m, values, indices } = matrix;
  checkNmShape(name, rows, cols, n, m);
  const kept = nmKeptPerRow(cols, n, m);
  const wordsPerRow = nmIndexWordsPerRow(cols, n, m);
  if (values.length !== rows * kept)
    throw new SparseFormatError(
      name,
      `${values.length} values, but a ${rows}×${cols} ${n}:${m} matrix has ${rows * kept}`,
    );
  if (indices.length !== rows * wordsPerRow)
    throw new SparseFormatError(
      name,
      `${indices.length} index words, but a ${rows}×${cols} ${n}:${m} matrix has ${rows * wordsPerRow}`,
    );
  const perWord = nmIndicesPerWord(m);
  const indexBits = nmIndexBits(m);
  const mask = (1 << indexBits) - 1;
  const tail = kept % perWord;
  for (let r = 0; r < rows; r++) {
    const base = r * wordsPerRow;
    if (tail !== 0 && (indices[base + wordsPerRow - 1] as number) >>> (tail * indexBits) !== 0)
      throw new SparseFormatError(name, `row ${r}: unused bits of its last index word are not zero`);
    for (let g = 0; g < cols / m; g++) {
      let previous = -1;
      for (let s = 0; s < n; s++) {
        const k = g * n + s;
        const j =
          ((indices[base + Math.floor(k / perWord)] as number) >>> ((k % perWord) * indexBits)) & mask;
        if (j >= m)
          throw new SparseFormatError(
            name,
            `row ${r}, group ${g}: index ${j} is out of range for groups of ${m}`,
          );
        if (j <= previous)
          throw new SparseFormatError(
            name,
            `row ${r}, group ${g}: index ${j} ${j === previous ? 'is duplicated' : 'is out of ascending order'}`,
          );
        previous = j;
      }
    }
  }
}

/** The dense row-major matrix, bit for bit what was encoded. Validates first. */
export function decodeNm(matrix: NmMatrix): Float32Array {
  validateNm(matrix);
  const { rows, cols, n, m } = matrix;
  const kept = nmKeptPerRow(cols, n, m);
  const perWord = nmIndicesPerWord(m);
  const indexBits = nmIndexBits(m);
  const wordsPerRow = nmIndexWordsPerRow(cols, n, m);
  const mask = (1 << indexBits) - 1;
  const dense = new Float32Array(rows * cols);
  const denseBits = new Uint32Array(dense.buffer);
  const valueBits = new Uint32Array(matrix.values.buffer, matrix.values.byteOffset, matrix.values.length);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < kept; k++) {
      const word = matrix.indices[r * wordsPerRow + Math.floor(k / perWord)] as number;
      const j = (word >>> ((k % perWord) * indexBits)) & mask;
      denseBits[r * cols + Math.floor(k / n) * m + j] = valueBits[r * kept + k] as number;
    }
  }
  return dense;
}
