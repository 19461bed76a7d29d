import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { freshSeed, Random } from '../../kernels/random';
import { F32_EPS, matmulReference } from '../../kernels/reference';
import { onCappedRuntime, sharedRuntime, uploader } from '../runtimeTesting';
import { columnSumDepth } from './columnSum';
import { centralDifferences, dot, gradientError } from './gradientCheck';
import { linearBackward } from './linearBackward';

// y = x · Wᵀ + b in float64 (the forward's definition), L = Σ dy ⊙ y. L is linear in each input,
// so the central differences are exact but for float64 rounding (≈ 1e-16 · |L| / h, below 1e-12
// here): the bounds are the kernels' own.
//
// Bounds, per element against its scale Σ|terms| (the magnitude f32 rounding is proportional to):
// dW and dx are dot products of k = rows or outDim terms: (k + 2)ε as for every matmul (the
// products, the sums in any order, the beta update); db is a column sum with the chain of
// columnSumDepth(rows) additions. Accumulating onto a prior value adds its |prior| to the scale and
// one rounding, already counted.
const SHAPES = [
  { rows: 1, inDim: 1, outDim: 1 },
  { rows: 37, inDim: 13, outDim: 29 },
  { rows: 70, inDim: 67, outDim: 5 },
  { rows: 129, inDim: 8, outDim: 41 },
];
const H = 2 ** -10;

function forward(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  rows: number,
  inDim: number,
  outDim: number,
) {
  const y = matmulReference({ a: x, b: w, m: rows, n: outDim, k: inDim, transB: true }).value;
  for (let t = 0; t < rows; t++)
    for (let o = 0; o < outDim; o++) y[t * outDim + o] = (y[t * outDim + o] as number) + (b[o] as number);
  return y;
}

const withPrior = (scale: Float64Array, prior: Float32Array | undefined) =>
  prior ? scale.map((s, i) => s + Math.abs(prior[i] as number)) : scale;

describe('linear layer backward', () => {
  const gpu = sharedRuntime();

  const upload = uploader('linearBackward test');

  async function check(r: GpuRuntime, shape: (typeof SHAPES)[number], accumulate: boolean, ldPad = 0) {
    const seed = freshSeed();
    const random = new Random(seed);
    const { rows, inDim, outDim } = shape;
    const x = random.uniform(rows * inDim);
    const w = random.uniform(outDim * inDim);
    const b = random.uniform(outDim);
    const dy = random.uniform(rows * outDim);
    // dy is read as a strided view at an offset, when ldPad > 0.
    const ldDy = outDim + ldPad;
    const dyStored = new Float32Array(ldPad + rows * ldDy).fill(Number.NaN);
    for (let t = 0; t < rows; t++) dyStored.set(dy.subarray(t * outDim, (t + 1) * outDim), ldPad + t * ldDy);
    const priors = accumulate
      ? { dW: random.uniform(outDim * inDim), db: random.uniform(outDim), dx: random.uniform(rows * inDim) }
      : undefined;
    const poison = (n: number) => new Float32Array(n).fill(Number.NaN);
    const dW = await upload(r, priors?.dW ?? poison(outDim * inDim));
    const db = await upload(r, priors?.db ?? poison(outDim));
    const dx = await upload(r, priors?.dx ?? poison(rows * inDim));
    await linearBackward(r, {
      rows,
      inDim,
      outDim,
      x: await upload(r, x),
      weight: await upload(r, w),
      dy: await upload(r, dyStored),
      ldDy,
      offsetDy: ldPad,
      dx,
      dWeight: dW,
      dBias: db,
      accumulateInput: accumulate,
      accumulateParams: accumulate,
    });

    const loss = () => dot(dy, forward(x, w, b, rows, inDim, outDim));
    const want = (input: Float32Array, prior: Float32Array | undefined) => {
      const g = centralDifferences(loss, input, H).grad;
      return prior ? g.map((v, i) => v + (prior[i] as number)) : g;
    };
    const label = `${JSON.stringify(shape)}${accumulate ? ' accumulating' : ''} seed ${seed}`;
    const dWScale = matmulReference({ a: dy, b: x, m: outDim, n: inDim, k: rows, transA: true }).scale;
    expect(
      gradientError(await r.readF32(dW), want(w, priors?.dW), { scale: withPrior(dWScale, priors?.dW) }),
      `dW ${label}`,
    ).toBeLessThanOrEqual((rows + 2) * F32_EPS);
    const dxScale = matmulReference({ a: dy, b: w, m: rows, n: inDim, k: outDim }).scale;
    expect(
      gradientError(await r.readF32(dx), want(x, priors?.dx), { scale: withPrior(dxScale, priors?.dx) }),
      `dx ${label}`,
    ).toBeLessThanOrEqual((outDim + 2) * F32_EPS);
    const dbScale = new Float64Array(outDim);
    for (let t = 0; t < rows; t++)
      for (let o = 0; o < outDim; o++)
        dbScale[o] = (dbScale[o] as number) + Math.abs(dy[t * outDim + o] as number);
    expect(
      gradientError(await r.readF32(db), want(b, priors?.db), { scale: withPrior(dbScale, priors?.db) }),
      `db ${label}`,
    ).toBeLessThanOrEqual(columnSumDepth(rows) * F32_EPS);
  }

  for (const shape of SHAPES) {
    it(`matches differences of the forward for ${JSON.stringify(shape)}`, () => check(gpu.rt, shape, false));
  }
  it('accumulates onto prior gradients from a strided dy', () =>
    check(gpu.rt, { rows: 45, inDim: 11, outDim: 19 }, true, 5));

  it('sums columns in windows and in several levels under tiny limits', async () => {
    await onCappedRuntime(
      { maxStorageBufferBindingSize: 1024, maxComputeWorkgroupsPerDimension: 3 },
      async (tiny) => {
        await check(tiny, { rows: 300, inDim: 3, outDim: 70 }, false);
        await check(tiny, { rows: 97, inDim: 5, outDim: 7 }, true, 3);
      },
    );
  });

  it('rejects bad shapes with RangeErrors', async () => {
    const small = await upload(gpu.rt, new Float32Array(6));
    const big = await upload(gpu.rt, new Float32Array(100));
    await expect(
      linearBackward(gpu.rt, { rows: 3, inDim: 4, outDim: 5, dy: small, dBias: big }),
    ).rejects.toThrow(/dy \(3×5.*needs 60 bytes/);
    await expect(
      linearBackward(gpu.rt, { rows: 2, inDim: 2, outDim: 3, dy: small, dWeight: big }),
    ).rejects.toThrow(/needs the layer's input/);
    await expect(
      linearBackward(gpu.rt, { rows: 2, inDim: 2, outDim: 3, dy: small, dx: big }),
    ).rejects.toThrow(/needs the weight/);
    await expect(
      linearBackward(gpu.rt, { rows: 2, inDim: 2, outDim: 3, dy: big, x: big, dWeight: big }),
    ).rejects.toThrow(/different buffer/);
    await expect(linearBackward(gpu.rt, { rows: 2, inDim: 0, outDim: 3, dy: big })).rejects.toThrow(
      RangeError,
    );
  });
});
