// The JavaScript baseline every GPU product is compared with: a straightforward ikj triple loop on
// row-major Float32Arrays, single-threaded. For big products it computes only the first `rows`
// rows of the result (a slice), and its rate is taken on the FLOPs of that slice.
//
// The loop wants op(A) and op(B) row-major; a transposed operand is packed into that layout once,
// before timing (O(n²) next to the O(n³) product).

export interface Product {
  /** op(A) is m × k, op(B) is k × n. A is stored k × m when transA, B is stored n × k when transB. */
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  a: Float32Array;
  b: Float32Array;
}

export interface PackedSlice {
  /** Rows of the result computed. */
  rows: number;
  /** op(A) rows 0..rows, row-major rows × k. */
  a: Float32Array;
  /** op(B), row-major k × n. */
  b: Float32Array;
  n: number;
  k: number;
}

/** How many result rows the JS loop computes: all of them, or enough for about `targetFlops`. */
export function sliceRows(p: Pick<Product, 'm' | 'n' | 'k'>, targetFlops: number): number {
  return Math.max(1, Math.min(p.m, Math.floor(targetFlops / (2 * p.n * p.k))));
}

export function packSlice(p: Product, rows: number): PackedSlice {
  const { m, n, k } = p;
  let a: Float32Array;
  if (p.transA) {
    a = new Float32Array(rows * k);
    for (let i = 0; i < rows; i++) for (let q = 0; q < k; q++) a[i * k + q] = p.a[q * m + i] as number;
  } else {
    a = p.a.subarray(0, rows * k);
  }
  let b: Float32Array;
  if (p.transB) {
    b = new Float32Array(k * n);
    for (let j = 0; j < n; j++) for (let q = 0; q < k; q++) b[q * n + j] = p.b[j * k + q] as number;
  } else {
    b = p.b;
  }
  return { rows, a, b, n, k };
}

/** out (rows × n) = A · B, the ikj loop: the innermost loop streams one row of B and of out. */
export function ikjMatmul(s: PackedSlice, out: Float32Array): void {
  const { rows, n, k, a, b } = s;
  out.fill(0);
  for (let i = 0; i < rows; i++) {
    const ci = i * n;
    for (let q = 0; q < k; q++) {
      const aiq = a[i * k + q] as number;
      const bq = q * n;
      for (let j = 0; j < n; j++) out[ci + j] = (out[ci + j] as number) + aiq * (b[bq + j] as number);
    }
  }
}
