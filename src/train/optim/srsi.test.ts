import { describe, expect, it } from 'vitest';
import { freshSeed, Random } from '../../kernels/random';
import { gaussianAt, gram, symmetricEigen } from './srsi';
import { chooseRank, householderQ, timesColumns, truncationErrors } from './srsi.reference';

const transposeTimes = (a: Float64Array, rows: number, cols: number, b: Float64Array, bCols: number) => {
  const out = new Float64Array(cols * bCols);
  for (let i = 0; i < rows; i++)
    for (let p = 0; p < cols; p++)
      for (let q = 0; q < bCols; q++)
        out[p * bCols + q] =
          (out[p * bCols + q] as number) + (a[i * cols + p] as number) * (b[i * bCols + q] as number);
  return out;
};

describe('S-RSI pieces in float64', () => {
  it('Householder Q is orthonormal and spans the columns, also for a rank-deficient sketch', () => {
    const seed = freshSeed();
    const random = new Random(seed);
    for (const [rows, cols] of [
      [13, 7],
      [7, 7],
      [40, 9],
      [5, 1],
    ] as const) {
      const a = Float64Array.from(random.uniform(rows * cols, -1, 1));
      // Make the last column a copy of the first: the sketch of a matrix of lower rank.
      if (cols > 2) for (let i = 0; i < rows; i++) a[i * cols + cols - 1] = a[i * cols] as number;
      const q = householderQ(a, rows, cols);
      const qtq = transposeTimes(q, rows, cols, q, cols);
      for (let p = 0; p < cols; p++)
        for (let r = 0; r < cols; r++)
          expect(Math.abs((qtq[p * cols + r] as number) - (p === r ? 1 : 0)), `seed ${seed}`).toBeLessThan(
            1e-14,
          );
      // A = Q·(QᵀA): the columns of A lie in the span of Q.
      const qta = transposeTimes(q, rows, cols, a, cols);
      const back = timesColumns(q, rows, cols, qta, cols, cols);
      for (let i = 0; i < a.length; i++)
        expect(Math.abs((back[i] as number) - (a[i] as number))).toBeLessThan(1e-13);
    }
  });

  it('Jacobi eigenpairs: A·e = λ·e, orthonormal, descending, across a wide spectrum', () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const n = 11;
    const y = Float64Array.from(random.uniform(30 * n, -1, 1));
    // Columns scaled over 8 orders of magnitude, as the sketch of a second moment is.
    for (let i = 0; i < 30; i++)
      for (let j = 0; j < n; j++) y[i * n + j] = (y[i * n + j] as number) * 10 ** (-0.8 * j);
    const a = gram(y, 30, n);
    const { values, vectors } = symmetricEigen(a, n);
    const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
    for (let j = 0; j < n; j++) {
      if (j > 0) expect(values[j] as number).toBeLessThanOrEqual(values[j - 1] as number);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += (a[i * n + k] as number) * (vectors[k * n + j] as number);
        expect(
          Math.abs(av - (values[j] as number) * (vectors[i * n + j] as number)),
          `seed ${seed}`,
        ).toBeLessThan(1e-13 * norm);
      }
    }
    const ete = transposeTimes(vectors, n, n, vectors, n);
    for (let p = 0; p < n; p++)
      for (let r = 0; r < n; r++)
        expect(Math.abs((ete[p * n + r] as number) - (p === r ? 1 : 0))).toBeLessThan(1e-13);
  });

  it('the rank rule takes the smallest rank under the threshold, else the cap', () => {
    const errors = truncationErrors(100, Float64Array.from([90, 9, 0.9, 0.09]));
    expect(Array.from(errors, (e) => Number(e.toFixed(6)))).toEqual([1, 0.316228, 0.1, 0.031623, 0.01]);
    expect(chooseRank(errors, 1, 4, 0.05)).toBe(3);
    expect(chooseRank(errors, 1, 2, 0.05)).toBe(2);
    expect(chooseRank(errors, 4, 4, 0.5)).toBe(4);
    expect(chooseRank(errors, 1, 4, 0.5)).toBe(1);
    // ‖V‖² = 0 (a parameter that never had a gradient): every rank is exact.
    expect(chooseRank(truncationErrors(0, new Float64Array(3)), 1, 3, 0)).toBe(1);
  });

  it('the Gaussian stream has the moments of a standard normal', () => {
    let s1 = 0;
    let s2 = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const z = gaussianAt(0x1234567, i);
      s1 += z;
      s2 += z * z;
    }
    // Mean within 4 standard errors of 0, variance within 4 of 1 (the variance of z² is 2).
    expect(Math.abs(s1 / n)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(s2 / n - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
  });
});
