// Float64 reference of the Lanczos recurrence in lanczos.ts (same start, same steps, no
// reorthogonalisation), for the tests.

import type { LanczosCoefficients } from './lanczos';

export function lanczos64(
  a: ArrayLike<number>,
  n: number,
  start: ArrayLike<number>,
  steps: number,
): LanczosCoefficients {
  const k = Math.min(steps, n);
  const alpha = new Float64Array(k);
  const betaSquared = new Float64Array(k - 1);
  let prev = new Float64Array(n);
  let v = Float64Array.from(start);
  let beta = 0;
  for (let j = 0; j < k; j++) {
    const w = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += (a[r * n + c] as number) * (v[c] as number);
      w[r] = s;
    }
    let dot = 0;
    for (let i = 0; i < n; i++) dot += (v[i] as number) * (w[i] as number);
    alpha[j] = dot;
    if (j === k - 1) break;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      w[i] = (w[i] as number) - dot * (v[i] as number) - beta * (prev[i] as number);
      sq += (w[i] as number) ** 2;
    }
    betaSquared[j] = sq;
    beta = Math.sqrt(sq);
    prev = v;
    v = w.map((x) => (beta > 0 ? x / beta : 0));
  }
  return { alpha, betaSquared };
}
