// Plain-JS references for the pruning masks and scores (tests and the kernel suite only). They are
// written as the specification reads, by sorting, and share nothing with the kernels' radix select
// and pairwise ranking: a mask from either must be identical.

/** Orders entry a before b when a is pruned first: the lower score, then the lower column. */
function prunedFirst(scores: Float32Array, a: number, b: number): number {
  const x = scores[a] as number;
  const y = scores[b] as number;
  if (x < y) return -1;
  if (x > y) return 1;
  return a - b;
}

/** 1 = keep, 0 = prune: in each row the `prune` entries that sort first by (score, column). */
export function rowMaskReference(
  scores: Float32Array,
  rows: number,
  cols: number,
  prune: number,
): Uint32Array {
  const keep = new Uint32Array(rows * cols).fill(1);
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length: cols }, (_, j) => r * cols + j);
    order.sort((a, b) => prunedFirst(scores, a, b));
    for (let i = 0; i < prune; i++) keep[order[i] as number] = 0;
  }
  return keep;
}

/** 1 = keep, 0 = prune: in each group of m consecutive columns, the n entries that sort last by (score, column). */
export function nmMaskReference(
  scores: Float32Array,
  rows: number,
  cols: number,
  n: number,
  m: number,
): Uint32Array {
  const keep = new Uint32Array(rows * cols);
  for (let start = 0; start < rows * cols; start += m) {
    const order = Array.from({ length: m }, (_, j) => start + j);
    order.sort((a, b) => prunedFirst(scores, a, b));
    for (let i = m - n; i < m; i++) keep[order[i] as number] = 1;
  }
  return keep;
}

/** |w|·sqrt(max(G[j, j], 0)) in float64. */
export function wandaScoresReference(
  w: Float32Array,
  gram: Float32Array,
  rows: number,
  cols: number,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) {
    const norm = Math.sqrt(Math.max(gram[j * cols + j] as number, 0));
    for (let i = 0; i < rows; i++) out[i * cols + j] = Math.abs(w[i * cols + j] as number) * norm;
  }
  return out;
}
