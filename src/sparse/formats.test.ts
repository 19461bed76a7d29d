import { describe, expect, it } from 'vitest';
import { freshSeed, Random } from '../kernels/random';
import {
  bitmaskBytes,
  bitmaskWordsPerRow,
  csrU16Bytes,
  decodeBitmask,
  encodeBitmask,
  popcount,
  validateBitmask,
} from './bitmaskFormat';
import { compressedBytes } from './compressed';
import { SparseFormatError } from './formatError';
import { decodeNm, encodeNm, nmBytes, nmIndexBits, nmIndicesPerWord, validateNm } from './nmFormat';
import { randomNmDense, randomUnstructuredDense } from './randomSparse';

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const arrayBytes = (...arrays: ArrayBufferView[]) => arrays.reduce((s, a) => s + a.byteLength, 0);

describe('N:M format', () => {
  const cases: [number, number, number, number][] = [
    [7, 12, 2, 4],
    [33, 20, 2, 4],
    [5, 64, 2, 4],
    [3, 48, 1, 4],
    [4, 24, 4, 8],
    [3, 30, 3, 5],
    [2, 48, 5, 16],
    [6, 14, 1, 2],
  ];
  it('decodes bit for bit, with explicit zeros in sparse groups, and counts its bytes exactly', () => {
    for (const [rows, cols, n, m] of cases) {
      const seed = freshSeed();
      const random = new Random(seed);
      const dense = randomNmDense(random, rows, cols, n, m, true);
      // A −0 and a NaN with a payload, put where values are kept, are values like any other.
      const kept = Array.from(bitsOf(dense).keys()).filter((i) => dense[i] !== 0);
      bitsOf(dense)[kept[0] as number] = 0x80000000;
      bitsOf(dense)[kept[1] as number] = 0x7fc0beef;
      const nm = encodeNm('w', dense, rows, cols, n, m);
      expect(Array.from(bitsOf(decodeNm(nm))), `${rows}×${cols} ${n}:${m} seed ${seed}`).toEqual(
        Array.from(bitsOf(dense)),
      );
      expect(arrayBytes(nm.values, nm.indices)).toBe(nmBytes(rows, cols, n, m));
      expect(compressedBytes(nm)).toBe(nmBytes(rows, cols, n, m));
    }
  });

  it('takes 8.5 bytes per group of 4 for 2:4 when a row is a multiple of 32 columns', () => {
    expect(nmBytes(1, 32, 2, 4)).toBe(8 * 8.5);
    expect(nmBytes(768, 3072, 2, 4) / (768 * 3072 * 4)).toBeCloseTo(8.5 / 16, 12);
    expect([2, 4, 8, 16, 5].map(nmIndexBits)).toEqual([1, 2, 3, 4, 3]);
    expect([4, 8].map(nmIndicesPerWord)).toEqual([16, 10]);
  });

  it('names the tensor, row and group of a matrix that breaks the pattern', () => {
    const dense = new Float32Array(2 * 8).fill(0);
    dense[8 + 4] = 1;
    dense[8 + 5] = -0; // −0 counts as stored
    dense[8 + 7] = 2;
    expect(() => encodeNm('layers.0.q.weight', dense, 2, 8, 2, 4)).toThrow(
      /layers\.0\.q\.weight: row 1, group 1 \(columns 4–7\) has 3 nonzeros, more than 2:4/,
    );
    expect(() => encodeNm('w', new Float32Array(10), 2, 5, 2, 4)).toThrow(/multiple of 4/);
    expect(() => encodeNm('w', new Float32Array(8), 1, 8, 4, 4)).toThrow(/1 ≤ n < m/);
    expect(() => encodeNm('w', new Float32Array(32), 1, 32, 2, 32)).toThrow(/m ≤ 16/);
    expect(() => encodeNm('w', new Float32Array(7), 2, 4, 2, 4)).toThrow(/7 elements/);
  });

  it('refuses arrays that do not describe a matrix, naming the tensor', () => {
    const random = new Random(freshSeed());
    const good = encodeNm('t', randomNmDense(random, 3, 16, 2, 4), 3, 16, 2, 4);
    expect(() => validateNm(good)).not.toThrow();
    const mutate = (f: (m: typeof good) => void) => {
      const copy = { ...good, values: good.values.slice(), indices: good.indices.slice() };
      f(copy);
      return () => validateNm(copy);
    };
    expect(mutate((m) => (m.values = m.values.subarray(1)))).toThrow(
      /t: 23 values, but a 3×16 2:4 matrix has 24/,
    );
    expect(mutate((m) => (m.indices = new Uint32Array(2)))).toThrow(/t: 2 index words/);
    // Row 1, group 0: both indices 3 (duplicate).
    expect(mutate((m) => (m.indices[1] = ((m.indices[1] as number) & ~0xf) | 0xf))).toThrow(
      /t: row 1, group 0: index 3 is duplicated/,
    );
    expect(mutate((m) => (m.indices[1] = ((m.indices[1] as number) & ~0xf) | 0x1))).toThrow(
      /row 1, group 0: index 0 is out of ascending order/,
    );
    // 8 kept per row of 16 slots: the high half of the word must be zero.
    expect(mutate((m) => (m.indices[2] = (m.indices[2] as number) | (1 << 20)))).toThrow(
      /row 2: unused bits/,
    );
    expect(() => decodeNm({ ...good, cols: 12 })).toThrow(SparseFormatError);
    // 3-bit indices (m = 5) can hold 5..7: out of range.
    const five = encodeNm('f', new Float32Array(5), 1, 5, 1, 5);
    five.indices[0] = 6;
    expect(() => validateNm(five)).toThrow(/f: row 0, group 0: index 6 is out of range for groups of 5/);
  });
});

describe('bitmask format', () => {
  it('decodes bit for bit at awkward shapes and densities and counts its bytes exactly', () => {
    for (const [rows, cols, density] of [
      [7, 12, 0.5],
      [33, 20, 0.3],
      [1, 1, 1],
      [4, 97, 0.5],
      [3, 64, 0],
      [9, 33, 0.9],
    ] as const) {
      const seed = freshSeed();
      const dense = randomUnstructuredDense(new Random(seed), rows, cols, density);
      dense[0] = -0;
      const b = encodeBitmask('w', dense, rows, cols);
      expect(Array.from(bitsOf(decodeBitmask(b))), `${rows}×${cols} seed ${seed}`).toEqual(
        Array.from(bitsOf(dense)),
      );
      const stored = bitsOf(dense).filter((v) => v !== 0).length;
      expect(b.values.length).toBe(stored);
      expect(arrayBytes(b.mask, b.values, b.rowOffsets)).toBe(bitmaskBytes(rows, cols, stored));
      expect(compressedBytes(b)).toBe(bitmaskBytes(rows, cols, stored));
      expect(b.mask.length).toBe(rows * bitmaskWordsPerRow(cols));
    }
  });

  it('beats CSR with u16 indices below 93.75% sparsity and loses above it', () => {
    const [rows, cols] = [768, 3072];
    const at = (density: number) => {
      const stored = Math.round(rows * cols * density);
      return [bitmaskBytes(rows, cols, stored), csrU16Bytes(rows, stored)] as const;
    };
    for (const d of [0.5, 0.2, 0.08]) {
      const [bitmask, csr] = at(d);
      expect(bitmask).toBeLessThan(csr);
    }
    const [bitmask, csr] = at(0.05);
    expect(csr).toBeLessThan(bitmask);
    // 50% sparse: 2.125 bytes per element (1/8 + 4·0.5) plus the row offsets.
    expect(at(0.5)[0]).toBe(rows * cols * 2.125 + 4 * (rows + 1));
    expect([0, 1, 0xffffffff, 0x80000001, 0x0f0f0f0f].map(popcount)).toEqual([0, 1, 32, 2, 16]);
  });

  it('refuses inconsistent arrays, naming the tensor', () => {
    const dense = randomUnstructuredDense(new Random(freshSeed()), 3, 40, 0.5);
    dense[0] = 1;
    const good = encodeBitmask('mlp', dense, 3, 40);
    const mutate = (f: (m: typeof good) => void) => {
      const copy = {
        ...good,
        mask: good.mask.slice(),
        values: good.values.slice(),
        rowOffsets: good.rowOffsets.slice(),
      };
      f(copy);
      return () => validateBitmask(copy);
    };
    expect(mutate(() => {})).not.toThrow();
    expect(mutate((m) => (m.mask[0] = (m.mask[0] as number) ^ 1))).toThrow(
      /mlp: row 0: its mask has \d+ bits set but its row offsets/,
    );
    expect(mutate((m) => (m.mask[1] = (m.mask[1] as number) | (1 << 9)))).toThrow(
      /row 0: mask bits set past column 39/,
    );
    expect(mutate((m) => (m.rowOffsets[0] = 1))).toThrow(/mlp: row offsets start at 1/);
    expect(mutate((m) => (m.values = m.values.subarray(1)))).toThrow(
      /mlp: row offsets end at \d+ but there are/,
    );
    expect(mutate((m) => (m.rowOffsets = m.rowOffsets.subarray(1)))).toThrow(
      /3 row offsets, but 3 rows need 4/,
    );
    expect(mutate((m) => (m.mask = m.mask.subarray(1)))).toThrow(/5 mask words, but a 3×40 matrix has 6/);
  });
});
