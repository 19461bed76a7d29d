import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countersSince, type GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { freshSeed, Random } from '../kernels/random';
import { NotPositiveDefiniteError, upperFactorOfInverse } from './cholesky.reference';
import { crossGram64 } from './fista.reference';
import { DAMPING_RETRIES, factorHessian, SingularHessianError } from './hessianFactor';

// Error bound of the GPU factor against the float64 one.
//
// Blocked Cholesky in f32 (rounding u = 2⁻²⁴) returns the exact factor of H + ΔH with
// ‖ΔH‖ ≲ c·n·u·‖H‖, and the triangular inverse adds an error of the same kind. A perturbation ΔH moves
// H⁻¹ = UᵀU by about κ·‖ΔH‖/‖H‖ relative, and U with it, where κ = ‖H‖·‖H⁻¹‖ of the damped H. So
// max|U − U₆₄| ≤ C·(n + 2)·u·κ·max|U₆₄| (the 2 for the rounding of the damping and of
// the square root and division that even n = 1 has), with κ taken in the 1-norm from the float64 factor (a slight
// overestimate of the 2-norm one, within a factor n). Observed max|ΔU| / ((n + 2)·u·κ·max|U|) over a few
// hundred fresh seeds of the cases below stayed below 0.02 (κ from 3 to 3·10⁴); C = 1 leaves 50×
// margin, while a wrong index or a skipped update moves U by O(max|U|) and fails by orders of
// magnitude.
const C_FACTOR = 1;
const U32 = 2 ** -24;

/** The damped factor as sparsegpt.ts used to compute it: float64, dead inputs fixed, same retries. */
function factorReference(h32: Float32Array, n: number, percdamp: number) {
  const h = Float64Array.from(h32);
  const dead: number[] = [];
  for (let i = 0; i < n; i++)
    if (h[i * n + i] === 0) {
      dead.push(i);
      h[i * n + i] = 1;
    }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += (h[i * n + i] as number) / n;
  for (let attempt = 0; attempt <= DAMPING_RETRIES; attempt++) {
    const damping = percdamp * 10 ** attempt;
    const damped = Float64Array.from(h);
    for (let i = 0; i < n; i++) damped[i * n + i] = (damped[i * n + i] as number) + damping * mean;
    try {
      return { u: upperFactorOfInverse(damped, n), damped, damping, dead };
    } catch (error) {
      if (!(error instanceof NotPositiveDefiniteError)) throw error;
    }
  }
  return null;
}

/** κ₁ = ‖H‖₁·‖H⁻¹‖₁ with H⁻¹ = UᵀU. */
function condition(h: Float64Array, u: Float64Array, n: number): number {
  const norm1 = (m: (i: number, j: number) => number) => {
    let best = 0;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.abs(m(i, j));
      best = Math.max(best, s);
    }
    return best;
  };
  const inv = (i: number, j: number) => {
    let s = 0;
    for (let k = 0; k <= Math.min(i, j); k++) s += (u[k * n + i] as number) * (u[k * n + j] as number);
    return s;
  };
  return norm1((i, j) => h[i * n + j] as number) * norm1(inv);
}

/** A Gram of `tokens` random inputs, input j scaled by scale^(j/n) (conditioning), as the GPU holds it. */
function gram(random: Random, n: number, tokens: number, opts: { scale?: number; dead?: number[] } = {}) {
  const x = random.uniform(tokens * n);
  const scale = opts.scale ?? 1;
  for (let t = 0; t < tokens; t++)
    for (let j = 0; j < n; j++) x[t * n + j] = (x[t * n + j] as number) * scale ** (j / Math.max(n - 1, 1));
  for (const d of opts.dead ?? []) for (let t = 0; t < tokens; t++) x[t * n + d] = 0;
  return { x, h: Float32Array.from(crossGram64(x, x, tokens, n)) };
}

describe('factorHessian (the inverse-Hessian factor on the GPU)', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
  });
  afterAll(() => rt.destroy());

  async function run(runtime: GpuRuntime, h: Float32Array, n: number, percdamp: number) {
    const hessian = await runtime.upload('test hessian', 'scratch', h);
    try {
      const before = runtime.counters();
      const factor = await factorHessian(runtime, { hessian: hessian.buffer, cols: n, percdamp });
      const counts = countersSince(runtime.counters(), before);
      try {
        const u = await runtime.readF32(factor.u, 0, 4 * n * n);
        const dead = new Uint32Array(await runtime.read(factor.dead, 0, 4 * n));
        // The Hessian is not modified.
        expect(await runtime.readF32(hessian.buffer)).toEqual(h);
        return { u, dead, damping: factor.damping, deadColumns: factor.deadColumns, counts };
      } finally {
        factor.destroy();
      }
    } finally {
      hessian.destroy();
    }
  }

  async function check(seed: number, h: Float32Array, n: number, percdamp: number, runtime = rt) {
    const gpu = await run(runtime, h, n, percdamp);
    const ref = factorReference(h, n, percdamp);
    if (!ref) throw new Error(`seed ${seed}: the reference failed too`);
    expect(gpu.damping, `seed ${seed}`).toBeCloseTo(ref.damping, 12);
    expect(gpu.deadColumns, `seed ${seed}`).toBe(ref.dead.length);
    expect(Array.from(gpu.dead), `seed ${seed}`).toEqual(
      Array.from({ length: n }, (_, i) => (ref.dead.includes(i) ? 1 : 0)),
    );
    let top = 0;
    for (const v of ref.u) top = Math.max(top, Math.abs(v));
    const kappa = condition(ref.damped, ref.u, n);
    const bound = C_FACTOR * (n + 2) * U32 * kappa * top;
    let worst = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const got = gpu.u[i * n + j] as number;
        // Zeros below the diagonal exactly (the sweep's matmul reads U as a plain matrix).
        if (j < i) {
          if (got !== 0) expect.fail(`U[${i}, ${j}] = ${got} below the diagonal; seed ${seed}`);
          continue;
        }
        const d = Math.abs(got - (ref.u[i * n + j] as number));
        worst = Math.max(worst, d);
        if (!(d <= bound))
          expect.fail(
            `U[${i}, ${j}]: GPU ${got}, float64 ${ref.u[i * n + j]}, |Δ| ${d} > ${bound}; seed ${seed}`,
          );
      }
    if (process.env.SPARSEGPT_LOG)
      console.log(
        `n ${n} seed ${seed} κ ${kappa.toExponential(2)} worst/((n+2)·u·κ·max|U|) ${(worst / ((n + 2) * U32 * kappa * top)).toExponential(2)}`,
      );
    return gpu;
  }

  // Around the 64-wide diagonal blocks: inside one (1, 7, 33), one and a bit, two less a bit, two and a bit.
  for (const n of [1, 7, 33, 65, 100, 130]) {
    it(`matches the float64 factor at n = ${n}, one read-back`, async () => {
      const seed = freshSeed();
      const { h } = gram(new Random(seed), n, 2 * n + 3);
      const gpu = await check(seed, h, n, 0.01);
      expect(gpu.counts.readbacks).toBe(1);
      expect(gpu.counts.bytesRead).toBe(32);
    });
  }

  it('matches on an ill-conditioned Gram (inputs scaled over 10³, fewer tokens than inputs) and dead inputs', async () => {
    const seed = freshSeed();
    const n = 45;
    const { h } = gram(new Random(seed), n, 30, { scale: 1e3, dead: [0, 31, 44] });
    const gpu = await check(seed, h, n, 0.01);
    expect(gpu.deadColumns).toBe(3);
  });

  // H = Gram − η·vvᵀ with inputs 4 and 40 equal, v = e₄ − e₄₀: v is an exact null vector of the Gram,
  // so H has the eigenvalue −η' (η' ≈ η = 0.005 × the mean diagonal, exactly negative after f32
  // rounding too, since rows 4 and 40 stay equal outside the 2×2 block); the rest of the spectrum
  // is ≥ 0 up to rounding. Damping d·mean is definite exactly when d·mean > η': 10⁻⁴ and 10⁻³
  // fail, 10⁻² succeeds.
  function indefinite(random: Random, n: number, eta: number) {
    const tokens = n - 5;
    const x = random.uniform(tokens * n);
    for (let t = 0; t < tokens; t++) x[t * n + 40] = x[t * n + 4] as number;
    const h = crossGram64(x, x, tokens, n);
    let mean = 0;
    for (let i = 0; i < n; i++) mean += (h[i * n + i] as number) / n;
    const e = eta * mean;
    h[4 * n + 4] = (h[4 * n + 4] as number) - e / 2;
    h[40 * n + 40] = (h[40 * n + 40] as number) - e / 2;
    h[4 * n + 40] = (h[4 * n + 40] as number) + e / 2;
    h[40 * n + 4] = (h[40 * n + 4] as number) + e / 2;
    return Float32Array.from(h);
  }

  it('raises the damping ×10 on a failed pivot (near-singular, rank-deficient), one read-back per attempt', async () => {
    const seed = freshSeed();
    const n = 50;
    const gpu = await check(seed, indefinite(new Random(seed), n, 0.005), n, 1e-4);
    expect(gpu.damping, `seed ${seed}`).toBeCloseTo(1e-2, 12);
    expect(gpu.counts.readbacks).toBe(3);
  });

  it('throws SingularHessianError naming the dampings tried on a Hessian that is not positive definite', async () => {
    const seed = freshSeed();
    const n = 20;
    const { h } = gram(new Random(seed), n, 40);
    const negative = h.map((v) => -v);
    const run1 = run(rt, negative, n, 0.01);
    await expect(run1).rejects.toThrow(SingularHessianError);
    await expect(run1).rejects.toThrow(/damping 0\.01, 0\.1, 1, 10, 100 × its mean diagonal/);
    await expect(run1).rejects.toThrow(/more data.*larger SparseGPT damping/);
    // The indefinite Hessian above, with the escalation stopping short of η.
    const run2 = run(rt, indefinite(new Random(seed), 50, 0.5), 50, 1e-6);
    await expect(run2).rejects.toThrow(SingularHessianError);
  });

  it('refuses a Hessian with NaN or ∞, naming the first bad entry', async () => {
    const seed = freshSeed();
    const n = 37;
    const { h } = gram(new Random(seed), n, 50);
    h[2 * n + 35] = Number.NaN;
    h[30 * n + 1] = Number.POSITIVE_INFINITY;
    await expect(run(rt, h, n, 0.01)).rejects.toThrow(/NaN at \(2, 35\) and 1 more non-finite/);
    h[2 * n + 35] = 1;
    await expect(run(rt, h, n, 0.01)).rejects.toThrow(/holds Infinity at \(30, 1\)/);
  });

  it('binds the matrix in windows of rows and narrows the diagonal blocks under a small binding limit', async () => {
    // 2048 bytes hold 448 floats (less the slack of a 256-byte offset alignment, as Dawn has): a 45 × 45 matrix needs
    // windows of 9 rows, a 32-wide diagonal block (1427 floats) does not fit, so blocks shrink to
    // 10 (415 floats), and a block row of the inverse is bound 43 columns at a time.
    const small = await createNodeRuntime({ capLimits: { maxStorageBufferBindingSize: 2048 } });
    try {
      const seed = freshSeed();
      const { h } = gram(new Random(seed), 45, 90, { dead: [17] });
      await check(seed, h, 45, 0.01, small);
    } finally {
      small.destroy();
    }
  });
});
