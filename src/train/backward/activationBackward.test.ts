import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import type { ActivationFn } from '../../kernels/activation';
import { freshSeed, Random } from '../../kernels/random';
import { F32_EPS } from '../../kernels/reference';
import { activate } from '../../kernels/reference.model';
import { onCappedRuntime, sharedRuntime, uploader } from '../runtimeTesting';
import { activationBackward, gatedActivationBackward } from './activationBackward';
import { centralDifferences, gradientError } from './gradientCheck';

// Each gradient is checked against central differences of the float64 forward reference
// (reference.model.ts activate) element by element. Inputs span [−6, 6], so GELU's erf reaches its
// constant tail (|x| ≥ 4·√2) and the tanh form its clamp (|u| ≥ 10). ReLU inputs within 4h of its
// kink are moved away, since no difference quotient across a kink means anything.
//
// Bound: 16ε against the scale |dy|·(1 + |x|) (|dout|·(1 + |a|)·(1 + |b|) for the gated form).
// f′ is bounded by 1.13 for every f here; its f32 error is a few ulps of its terms (erf within
// 3.3ε absolute, exp within a few ulps of a relative error |x|²ε/2 of its argument, σ and σ(−x)
// computed without cancellation) times at most |x|, then one product with dy: ≤ 12ε·(1 + |x|)
// with margin to 16ε. The gated form's f(a) carries the forward's ACTIVATION_BOUND (16ε·|a|).
// Step h = 2^-14: truncation h²/6·|f‴| ≤ 1e-9, checked by Richardson to stay under a tenth of it.
const FNS: ActivationFn[] = ['gelu', 'gelu_tanh', 'relu', 'silu'];
const SHAPES = [
  { rows: 1, cols: 1 },
  { rows: 7, cols: 61 },
  { rows: 37, cols: 100 },
];
const H = 2 ** -14;
const BOUND = 16 * F32_EPS;

function draw(random: Random, n: number, fn: ActivationFn): Float32Array {
  const x = random.uniform(n, -6, 6);
  if (fn === 'relu') for (let i = 0; i < n; i++) if (Math.abs(x[i] as number) < 4 * H) x[i] = 0.5;
  return x;
}

/** d/dx of weight · f(x) at every x, by central differences, and the largest estimated error of them. */
function slopes(fn: ActivationFn, x: Float32Array, weight: (i: number) => number) {
  const grad = new Float64Array(x.length);
  let error = 0;
  for (let i = 0; i < x.length; i++) {
    const d = centralDifferences((v) => weight(i) * activate(fn, v[0] as number), x.slice(i, i + 1), H, {
      estimate: true,
    });
    grad[i] = d.grad[0] as number;
    error = Math.max(error, d.error / Math.max(Math.abs(weight(i)) * (1 + Math.abs(x[i] as number)), 1e-30));
  }
  return { grad, error };
}

describe('activation backward', () => {
  const gpu = sharedRuntime();

  const upload = uploader('activationBackward test');

  async function checkPointwise(
    r: GpuRuntime,
    fn: ActivationFn,
    rows: number,
    cols: number,
    inPlace: boolean,
  ) {
    const seed = freshSeed();
    const random = new Random(seed);
    const n = rows * cols;
    const x = draw(random, n, fn);
    const dy = random.uniform(n);
    const dyBuffer = await upload(r, dy);
    const dx = inPlace ? dyBuffer : await upload(r, new Float32Array(n).fill(Number.NaN));
    await activationBackward(r, {
      fn,
      rows,
      cols,
      x: { buffer: await upload(r, x) },
      dy: { buffer: dyBuffer },
      dx: inPlace ? undefined : { buffer: dx },
    });
    const want = slopes(fn, x, (i) => dy[i] as number);
    const scale = Float64Array.from(x, (v, i) => Math.abs(dy[i] as number) * (1 + Math.abs(v)));
    const label = `${fn} ${rows}×${cols}${inPlace ? ' in place' : ''} seed ${seed}`;
    expect(want.error, `differences' own error, ${label}`).toBeLessThan(BOUND / 10);
    expect(gradientError(await r.readF32(dx), want.grad, { scale }), label).toBeLessThanOrEqual(BOUND);
  }

  async function checkGated(r: GpuRuntime, fn: ActivationFn, rows: number, cols: number, pad = 0) {
    const seed = freshSeed();
    const random = new Random(seed);
    const n = rows * cols;
    const a = draw(random, n, fn);
    const b = random.uniform(n, -2, 2);
    const dOut = random.uniform(n);
    // a and b as column blocks of one fused [gate | pad | up] buffer's halves would share a buffer,
    // which a writable binding forbids; here each is a strided block of its own buffer.
    const ld = cols + pad;
    const stored = (v: Float32Array) => {
      const out = new Float32Array(pad + rows * ld).fill(Number.NaN);
      for (let t = 0; t < rows; t++) out.set(v.subarray(t * cols, (t + 1) * cols), pad + t * ld);
      return out;
    };
    const aBuffer = await upload(r, stored(a));
    const bBuffer = await upload(r, stored(b));
    await gatedActivationBackward(r, {
      fn,
      rows,
      cols,
      a: { buffer: aBuffer, ld, offset: pad },
      b: { buffer: bBuffer, ld, offset: pad },
      dOut: { buffer: await upload(r, dOut) },
    });
    const read = async (buffer: GPUBuffer) => {
      const all = await r.readF32(buffer);
      const out = new Float32Array(n);
      for (let t = 0; t < rows; t++) out.set(all.subarray(pad + t * ld, pad + t * ld + cols), t * cols);
      return out;
    };
    const label = `gated ${fn} ${rows}×${cols} seed ${seed}`;
    const da = slopes(fn, a, (i) => (dOut[i] as number) * (b[i] as number));
    const scale = Float64Array.from(
      a,
      (v, i) => Math.abs(dOut[i] as number) * (1 + Math.abs(v)) * (1 + Math.abs(b[i] as number)),
    );
    expect(da.error, `differences' own error, ${label}`).toBeLessThan(BOUND / 10);
    expect(gradientError(await read(aBuffer), da.grad, { scale }), `d gate ${label}`).toBeLessThanOrEqual(
      BOUND,
    );
    // out is linear in b: its slope is dOut · f(a), by differences as well.
    const db = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      db[i] = centralDifferences(
        (v) => (dOut[i] as number) * activate(fn, a[i] as number) * (v[0] as number),
        b.slice(i, i + 1),
        H,
      ).grad[0] as number;
    }
    expect(gradientError(await read(bBuffer), db, { scale }), `d up ${label}`).toBeLessThanOrEqual(BOUND);
  }

  for (const fn of FNS) {
    for (const { rows, cols } of SHAPES) {
      it(`${fn}: matches differences of the forward for ${rows}×${cols}`, () =>
        checkPointwise(gpu.rt, fn, rows, cols, false));
    }
    it(`${fn}: overwrites dy in place`, () => checkPointwise(gpu.rt, fn, 5, 67, true));
  }
  for (const fn of ['silu', 'gelu', 'gelu_tanh'] as const) {
    it(`gated ${fn} (SwiGLU for silu): d gate and d up on strided blocks`, () =>
      checkGated(gpu.rt, fn, 13, 71, 3));
  }
  it('gated silu: 1×1', () => checkGated(gpu.rt, 'silu', 1, 1));

  it('processes windows under a tiny binding limit', async () => {
    await onCappedRuntime(
      { maxStorageBufferBindingSize: 512, maxComputeWorkgroupsPerDimension: 2 },
      async (tiny) => {
        await checkPointwise(tiny, 'gelu_tanh', 23, 45, false);
        await checkPointwise(tiny, 'silu', 23, 45, true);
        await checkGated(tiny, 'silu', 19, 37, 2);
      },
    );
  });

  it('rejects bad arguments with RangeErrors', async () => {
    const x = await upload(gpu.rt, new Float32Array(12));
    const y = await upload(gpu.rt, new Float32Array(12));
    await expect(
      activationBackward(gpu.rt, { fn: 'relu', rows: 3, cols: 5, x: { buffer: x }, dy: { buffer: y } }),
    ).rejects.toThrow(/x \(3×5.*needs 60 bytes/);
    await expect(
      activationBackward(gpu.rt, { fn: 'relu', rows: 2, cols: 5, x: { buffer: x }, dy: { buffer: x } }),
    ).rejects.toThrow(/shares a buffer/);
    await expect(
      activationBackward(gpu.rt, {
        fn: 'tanh' as ActivationFn,
        rows: 2,
        cols: 5,
        x: { buffer: x },
        dy: { buffer: y },
      }),
    ).rejects.toThrow(/fn must be one of/);
    await expect(
      gatedActivationBackward(gpu.rt, {
        fn: 'silu',
        rows: 1,
        cols: 4,
        a: { buffer: x },
        b: { buffer: x, offset: 4 },
        dOut: { buffer: y },
      }),
    ).rejects.toThrow(/shares a buffer/);
  });
});
