// SparseGPT in plain float64 (tests only): the reference code's fasterprune, written out as loops,
// with our exact-count rule for unstructured masks (⌊numel·s⌋ lowest scores per block, ties by index).

import { cholesky, inverseFromCholesky, upperCholesky } from './cholesky';
import type { SparsityPattern } from './options';

export function sparseGptReference(
  w0: ArrayLike<number>,
  rows: number,
  cols: number,
  hessian: ArrayLike<number>,
  pattern: SparsityPattern,
  percdamp: number,
  blocksize: number,
): { w: Float64Array; mask: Uint8Array } {
  const w = Float64Array.from(w0);
  const h = Float64Array.from(hessian);
  for (let i = 0; i < cols; i++) {
    if (h[i * cols + i] === 0) {
      h[i * cols + i] = 1;
      for (let r = 0; r < rows; r++) w[r * cols + i] = 0;
    }
  }
  let mean = 0;
  for (let i = 0; i < cols; i++) mean += h[i * cols + i] as number;
  for (let i = 0; i < cols; i++) h[i * cols + i] = (h[i * cols + i] as number) + (percdamp * mean) / cols;
  const u = upperCholesky(inverseFromCholesky(cholesky(h, cols), cols), cols);
  const pruned = new Uint8Array(rows * cols);
  const score = (r: number, c: number) => (w[r * cols + c] as number) ** 2 / (u[c * cols + c] as number) ** 2;
  for (let c0 = 0; c0 < cols; c0 += blocksize) {
    const b = Math.min(blocksize, cols - c0);
    if (pattern.kind === 'unstructured') {
      const entries: { s: number; index: number }[] = [];
      for (let r = 0; r < rows; r++)
        for (let j = 0; j < b; j++) entries.push({ s: score(r, c0 + j), index: r * b + j });
      entries.sort((x, y) => x.s - y.s || x.index - y.index);
      for (const e of entries.slice(0, Math.floor(rows * b * pattern.sparsity)))
        pruned[Math.floor(e.index / b) * cols + c0 + (e.index % b)] = 1;
    }
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < b; i++) {
        const c = c0 + i;
        if (pattern.kind === 'nm' && i % pattern.m === 0) {
          const group = Array.from({ length: pattern.m }, (_, k) => c + k).sort(
            (x, y) => score(r, x) - score(r, y) || x - y,
          );
          for (const g of group.slice(0, pattern.m - pattern.n)) pruned[r * cols + g] = 1;
        }
        const wc = w[r * cols + c] as number;
        const q = pruned[r * cols + c] ? 0 : wc;
        const err = (wc - q) / (u[c * cols + c] as number);
        // Within the block and beyond: the reference applies the tail lazily, the same sums.
        for (let j = c + 1; j < cols; j++)
          w[r * cols + j] = (w[r * cols + j] as number) - err * (u[c * cols + j] as number);
        w[r * cols + c] = q;
      }
    }
  }
  return { w, mask: pruned };
}
