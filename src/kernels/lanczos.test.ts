import { describe, expect, it } from 'vitest';
import { countersSince } from '../gpu/runtime';
import { withKernelRuntimes } from '../host/testRuntimes';
import { lanczos, largestRitzValue } from './lanczos';
import { lanczos64 } from './lanczos.reference';
import { freshSeed, Random } from './random';
import { scratch } from './testing';

/** A random n × n Gram XᵀX of `tokens` rows, rounded to f32. */
function randomGram(random: Random, n: number, tokens: number): Float32Array {
  const x = random.uniform(tokens * n);
  const g = new Float32Array(n * n);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) {
      let sum = 0;
      for (let t = 0; t < tokens; t++) sum += (x[t * n + r] as number) * (x[t * n + c] as number);
      g[r * n + c] = sum;
    }
  return g;
}

function unitStart(random: Random, n: number): Float32Array {
  const v = random.uniform(n, 0.5, 1.5);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

describe('Lanczos on the GPU', () => {
  // 2 KiB bindings (448 elements) and 3 workgroups per dimension: G in row and column blocks,
  // the vector updates and reductions in windows.
  const { full, both } = withKernelRuntimes();

  for (const [label, which] of both) {
    it(`matches the float64 recurrence with one read-back (${label})`, async () => {
      const r = which();
      for (const [n, steps] of [
        [1, 4],
        [2, 5],
        [37, 6],
        [461, 4],
      ] as const) {
        const seed = freshSeed();
        const random = new Random(seed);
        const g = randomGram(random, n, Math.min(n + 3, 40));
        const start = unitStart(random, n);
        const buffer = await scratch(r, g);
        const before = r.counters();
        const gpu = await lanczos(r, buffer, n, start, steps);
        expect(countersSince(r.counters(), before).readbacks, `n ${n}`).toBe(1);
        const ref = lanczos64(g, n, start, steps);
        expect(gpu.alpha.length).toBe(Math.min(n, steps));
        expect(gpu.betaSquared.length).toBe(Math.min(n, steps) - 1);
        // The first few steps, before orthogonality is lost: each coefficient is a sum over n of
        // products of f32 values, its error a few n·2⁻²⁴ of ‖G‖ per step, compounding over the
        // steps; 1e-4·λ_max (β² against λ_max²) holds it with room for n = 461.
        const scale = largestRitzValue(ref);
        for (let j = 0; j < gpu.alpha.length; j++)
          expect(
            Math.abs((gpu.alpha[j] as number) - (ref.alpha[j] as number)),
            `α${j + 1} n ${n} seed ${seed}`,
          ).toBeLessThanOrEqual(1e-4 * scale);
        for (let j = 0; j < gpu.betaSquared.length; j++)
          expect(
            Math.abs((gpu.betaSquared[j] as number) - (ref.betaSquared[j] as number)),
            `β²${j + 2} n ${n} seed ${seed}`,
          ).toBeLessThanOrEqual(1e-4 * scale * scale);
      }
    });
  }

  it('stops T at an exhausted Krylov space instead of dividing by zero', async () => {
    const rt = full();
    // G = diag(3, 3, 5, 5) from a start with equal weights on both eigenspaces: two steps span an
    // invariant subspace, β₃ = 0, and later steps must stay finite and zero.
    const g = new Float32Array([3, 0, 0, 0, 0, 3, 0, 0, 0, 0, 5, 0, 0, 0, 0, 5]);
    const buffer = await scratch(rt, g);
    const t = await lanczos(rt, buffer, 4, new Float32Array([0.5, 0.5, 0.5, 0.5]), 4);
    expect([...t.alpha, ...t.betaSquared].every(Number.isFinite)).toBe(true);
    expect(t.betaSquared[1]).toBe(0);
    expect(largestRitzValue(t)).toBeCloseTo(5, 5);
  });

  it('takes the largest eigenvalue of a tridiagonal matrix in float64', () => {
    // α = 2, β = 1 (n × n): eigenvalues 2 + 2·cos(kπ/(n + 1)), the largest at k = 1.
    for (const n of [1, 2, 7, 50]) {
      const t = { alpha: new Float64Array(n).fill(2), betaSquared: new Float64Array(n - 1).fill(1) };
      expect(largestRitzValue(t)).toBeCloseTo(2 + 2 * Math.cos(Math.PI / (n + 1)), 12);
    }
    // A zero β splits T: the largest of both blocks counts only up to the split (the Krylov space
    // ended there), here diag(1) then a block that must be ignored.
    expect(
      largestRitzValue({ alpha: new Float64Array([1, 9]), betaSquared: new Float64Array([0]) }),
    ).toBeCloseTo(1, 12);
  });
});
