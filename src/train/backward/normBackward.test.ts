import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { type NormKind, normGroupSize } from '../../kernels/norm';
import { freshSeed, Random } from '../../kernels/random';
import { F32_EPS } from '../../kernels/reference';
import { layerNormReference, rmsNormReference } from '../../kernels/reference.model';
import { onCappedRuntime, sharedRuntime, uploader } from '../runtimeTesting';
import { columnSumDepth } from './columnSum';
import { centralDifferences, dot, gradientError } from './gradientCheck';
import { normBackward } from './normBackward';

// Gradients of L = Σ dy ⊙ norm(x; g, b), checked against central differences of the float64
// forward references of kernels/norm.ts. Step h = 2^-14 for rows of unit spread: the truncation
// error h²/6·|∂³L| is then about 1e-9 of the gradient (Richardson-checked below to stay under a
// tenth of the bound), the float64 rounding 1e-16·|L|/h below 1e-10. The norm bends on the scale of
// the row's spread s = √(var + ε), so a narrower row gets a step s·h (a power of two): a one-wide
// RMSNorm row with x = -0.0107 has s ≈ 0.011, and h = 2^-14 left a truncation error 4× the bound.
//
// Bounds, per element against a scale that f32 rounding is proportional to. With depth =
// ceil(width / G) + log2 G the row sums' chain (G the workgroup size of norm.ts), r and x̂ come out
// of the same computation as the forward (μ off by (depth + 1)ε·mean|x|, r by (depth/2 + 8)ε
// relative); the two means mean(gdy) and mean(gdy ⊙ x̂) are further depth-long sums. So:
//   dx_j against r·(|gdy_j| + mean|gdy| + (|x̂_j| + r·mean|x|)·(mean|gdy ⊙ x̂| + r·mean|x|·mean|gdy|)):
//     (2·depth + 32)ε, the sums, r's error, the products and the final add into a prior dx;
//   dg against Σ_t |dy|·(|x̂| + r·mean|x|): (columnSumDepth(rows) + depth + 16)ε, the x̂ error and
//     the column sum;
//   db against Σ_t |dy|: columnSumDepth(rows)·ε.
const H = 2 ** -14;
const SHAPES = [
  { rows: 1, width: 1 },
  { rows: 3, width: 67 },
  { rows: 37, width: 13 },
  { rows: 70, width: 300 },
];

interface Case {
  kind: NormKind;
  rows: number;
  width: number;
  /** Extra elements per row of x, dy and dx, and their offsets: strided views. */
  pad?: number;
  accumulate?: boolean;
}

function forward(
  kind: NormKind,
  x: Float32Array,
  rows: number,
  width: number,
  g: Float32Array,
  b: Float32Array,
) {
  return kind === 'layer'
    ? layerNormReference(x, rows, width, g, b, 1e-5).value
    : rmsNormReference(x, rows, width, g, 1e-5).value;
}

/** The row's spread √(var + ε) (about 0 for RMSNorm), rounded down to a power of two, at most 1. */
function rowStepScale(kind: NormKind, row: Float32Array): number {
  const mean = kind === 'layer' ? row.reduce((s, v) => s + v, 0) / row.length : 0;
  const spread = Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length + 1e-5);
  return 2 ** Math.min(0, Math.floor(Math.log2(spread)));
}

/** Packs rows × width into rows ld apart after `offset` elements, the gaps filled with `fill`. */
function strided(x: Float32Array, rows: number, width: number, ld: number, offset: number, fill: number) {
  const out = new Float32Array(offset + rows * ld).fill(fill);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * width, (r + 1) * width), offset + r * ld);
  return out;
}

function unstrided(x: Float32Array, rows: number, width: number, ld: number, offset: number) {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(x.subarray(offset + r * ld, offset + r * ld + width), r * width);
  return out;
}

describe('LayerNorm and RMSNorm backward', () => {
  const gpu = sharedRuntime();

  const upload = uploader('normBackward test');

  async function check(r: GpuRuntime, c: Case) {
    const { kind, rows, width } = c;
    const seed = freshSeed();
    const random = new Random(seed);
    const pad = c.pad ?? 0;
    const ld = width + pad;
    // An offset mean in x, so LayerNorm's centring matters.
    const x = random.uniform(rows * width, -1.5, 2.5);
    const g = random.uniform(width, 0.5, 1.5);
    const b = random.uniform(width);
    const dy = random.uniform(rows * width);
    const prior = c.accumulate
      ? { dx: random.uniform(rows * width), dg: random.uniform(width), db: random.uniform(width) }
      : undefined;
    const dx = await upload(r, strided(prior?.dx ?? new Float32Array(rows * width), rows, width, ld, pad, 7));
    const poison = new Float32Array(width).fill(Number.NaN);
    const dg = await upload(r, prior?.dg ?? poison);
    const db = await upload(r, prior?.db ?? poison);
    await normBackward(r, {
      kind,
      x: await upload(r, strided(x, rows, width, ld, pad, Number.NaN)),
      weight: await upload(r, g),
      dy: await upload(r, strided(dy, rows, width, ld, pad, Number.NaN)),
      dx,
      dWeight: dg,
      dBias: kind === 'layer' ? db : undefined,
      rows,
      width,
      ldX: ld,
      ldDy: ld,
      ldDx: ld,
      offsetX: pad,
      offsetDy: pad,
      offsetDx: pad,
      accumulateParams: c.accumulate ?? false,
    });
    const dxStored = await r.readF32(dx);
    for (let i = 0; i < pad; i++) expect(dxStored[i], 'the offset before dx is untouched').toBe(7);
    const gpuDx = unstrided(dxStored, rows, width, ld, pad);

    // The rows' statistics and the error scales.
    const group = normGroupSize(width);
    const depth = Math.ceil(width / group) + Math.log2(group);
    const dxScale = new Float64Array(rows * width);
    const dgScale = new Float64Array(width);
    const dbScale = new Float64Array(width);
    for (let t = 0; t < rows; t++) {
      const row = x.subarray(t * width, (t + 1) * width);
      const mean = kind === 'layer' ? row.reduce((s, v) => s + v, 0) / width : 0;
      const meanAbs = row.reduce((s, v) => s + Math.abs(v), 0) / width;
      const rstd = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / width + 1e-5);
      let gdyAbs = 0;
      let gdyXhatAbs = 0;
      for (let i = 0; i < width; i++) {
        const gdy = Math.abs((g[i] as number) * (dy[t * width + i] as number));
        gdyAbs += gdy / width;
        gdyXhatAbs += (gdy * Math.abs(((row[i] as number) - mean) * rstd)) / width;
      }
      for (let i = 0; i < width; i++) {
        const xhat = Math.abs(((row[i] as number) - mean) * rstd);
        const d = Math.abs(dy[t * width + i] as number);
        const xhatError = xhat + rstd * meanAbs;
        dxScale[t * width + i] =
          rstd *
            (Math.abs((g[i] as number) * d) + gdyAbs + xhatError * (gdyXhatAbs + rstd * meanAbs * gdyAbs)) +
          Math.abs(prior?.dx[t * width + i] ?? 0);
        dgScale[i] = (dgScale[i] as number) + d * xhatError;
        dbScale[i] = (dbScale[i] as number) + d;
      }
    }
    const label = `${kind} ${JSON.stringify(c)} seed ${seed}`;

    // dx: a row's loss depends on that row of x alone.
    const wantDx = new Float64Array(rows * width);
    let fdError = 0;
    for (let t = 0; t < rows; t++) {
      const row = x.slice(t * width, (t + 1) * width);
      const d = centralDifferences(
        (r) => dot(dy.subarray(t * width, (t + 1) * width), forward(kind, r, 1, width, g, b)),
        row,
        H * rowStepScale(kind, row),
        { estimate: t < 4 },
      );
      for (let i = 0; i < width; i++) {
        wantDx[t * width + i] = (d.grad[i] as number) + (prior?.dx[t * width + i] ?? 0);
        fdError = Math.max(fdError, d.error / (dxScale[t * width + i] as number));
      }
    }
    const dxBound = (2 * depth + 32) * F32_EPS;
    expect(fdError, `differences' own error, ${label}`).toBeLessThan(dxBound / 10);
    expect(gradientError(gpuDx, wantDx, { scale: dxScale }), `dx ${label}`).toBeLessThanOrEqual(dxBound);

    const loss = () => dot(dy, forward(kind, x, rows, width, g, b));
    const wantParam = (p: Float32Array, prior0: Float32Array | undefined) =>
      centralDifferences(loss, p, H).grad.map((v, i) => v + (prior0?.[i] ?? 0));
    const withPrior = (s: Float64Array, p0: Float32Array | undefined) =>
      s.map((v, i) => v + Math.abs(p0?.[i] ?? 0));
    expect(
      gradientError(await r.readF32(dg), wantParam(g, prior?.dg), { scale: withPrior(dgScale, prior?.dg) }),
      `dg ${label}`,
    ).toBeLessThanOrEqual((columnSumDepth(rows) + depth + 16) * F32_EPS);
    if (kind === 'layer') {
      expect(
        gradientError(await r.readF32(db), wantParam(b, prior?.db), { scale: withPrior(dbScale, prior?.db) }),
        `db ${label}`,
      ).toBeLessThanOrEqual(columnSumDepth(rows) * F32_EPS);
    }
  }

  for (const kind of ['layer', 'rms'] as const) {
    for (const shape of SHAPES) {
      it(`${kind}: matches differences of the forward for ${shape.rows}×${shape.width}`, () =>
        check(gpu.rt, { kind, ...shape }));
    }
    it(`${kind}: strided views, accumulating parameter gradients`, () =>
      check(gpu.rt, { kind, rows: 29, width: 41, pad: 3, accumulate: true }));
    it(`${kind}: windows and chunked sums under tiny limits`, async () => {
      await onCappedRuntime(
        { maxStorageBufferBindingSize: 1024, maxComputeWorkgroupsPerDimension: 3 },
        async (tiny) => {
          await check(tiny, { kind, rows: 131, width: 19, pad: 2 });
        },
      );
    });
  }

  it('rejects bad arguments with RangeErrors', async () => {
    const b = await upload(gpu.rt, new Float32Array(40));
    const c = await upload(gpu.rt, new Float32Array(40));
    const d = await upload(gpu.rt, new Float32Array(40));
    const base = { x: b, weight: c, dy: d, rows: 4, width: 10 };
    await expect(normBackward(gpu.rt, { ...base, kind: 'rms', dx: b })).rejects.toThrow(/different buffer/);
    const dx = await upload(gpu.rt, new Float32Array(30));
    await expect(normBackward(gpu.rt, { ...base, kind: 'layer', dx })).rejects.toThrow(
      /dx \(4×10.*needs 160/,
    );
    const dx2 = await upload(gpu.rt, new Float32Array(40));
    await expect(normBackward(gpu.rt, { ...base, kind: 'rms', dx: dx2, dBias: dx })).rejects.toThrow(
      /no bias/,
    );
    await expect(normBackward(gpu.rt, { ...base, kind: 'rms', dx: dx2, eps: -1 })).rejects.toThrow(/eps/);
  });
});
