// Random sparse matrices for the sparse kernels' tests and the benchmark: uniform values in [−1, 1)
// with a random N:M pattern or a random unstructured one, drawn from the project's seeded generator
// so a failure can be replayed from its seed.

import type { Random } from '../kernels/random';

/**
 * A rows × cols matrix where each group of m columns keeps n random positions; with `sparser`, a
 * group keeps fewer than n about a third of the time (the format must then store explicit zeros).
 */
export function randomNmDense(
  random: Random,
  rows: number,
  cols: number,
  n: number,
  m: number,
  sparser = false,
): Float32Array {
  const dense = random.uniform(rows * cols);
  for (let start = 0; start < dense.length; start += m) {
    const keep = sparser && random.next() < 1 / 3 ? Math.floor(random.next() * n) : n;
    const order = Array.from({ length: m }, (_, j) => j);
    // Fisher–Yates: the first `keep` positions of a random permutation survive.
    for (let i = m - 1; i > 0; i--) {
      const j = Math.floor(random.next() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (let i = keep; i < m; i++) dense[start + (order[i] as number)] = 0;
  }
  return dense;
}

/** A rows × cols matrix whose entries are kept independently with probability `density`. */
export function randomUnstructuredDense(
  random: Random,
  rows: number,
  cols: number,
  density: number,
): Float32Array {
  const dense = random.uniform(rows * cols);
  for (let i = 0; i < dense.length; i++) if (random.next() >= density) dense[i] = 0;
  return dense;
}
