import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { withNodeRuntime } from '../host/testRuntimes';
import { activation, biasAdd, gatedActivation, swiglu } from './activation';
import { Random } from './random';
import { relativeError } from './reference';
import { ACTIVATION_BOUND, activate, activationReference, erf, gatedReference } from './reference.model';
import { poisoned, scratch } from './testing';

describe('activations', () => {
  let rt: GpuRuntime;
  withNodeRuntime((made) => {
    rt = made;
  });

  it('has a float64 erf good to 1e-13 (values from mpmath at 25 digits, rounded to float64)', () => {
    for (const [x, value] of [
      [1e-6, 1.1283791670951364e-6],
      [0.3, 0.3286267594591274],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.4999, 0.9995928300996666],
      [2.5, 0.999593047982555],
      [3.7, 0.9999998328489421],
      [5, 0.9999999999984626],
      [-1.5, -0.9661051464753108],
    ] as const) {
      expect(Math.abs(erf(x) - value), `erf(${x})`).toBeLessThanOrEqual(1e-13 * Math.abs(value));
    }
  });

  it('is exact at 0, saturates without NaN far out, and matches the reference in between', async () => {
    const x = Float32Array.of(0, -0, 1e-30, -1e-30, 30, -30, 100, -100, 1e4, -1e4, 0.5, -2.5, 3.9999, 4.0001);
    for (const fn of ['gelu', 'gelu_tanh', 'relu', 'silu'] as const) {
      const y = await poisoned(rt, x.length);
      await activation(rt, {
        fn,
        rows: 1,
        cols: x.length,
        x: { buffer: await scratch(rt, x) },
        y: { buffer: y },
      });
      const got = await rt.readF32(y);
      expect(got[0], fn).toBe(0);
      expect(relativeError(got, activationReference(fn, x)), fn).toBeLessThanOrEqual(ACTIVATION_BOUND);
    }
  });

  it('runs in place and on strided column blocks (a fused gate/up product)', async () => {
    const [rows, f] = [7, 45];
    const random = new Random(21);
    // One [rows, 2f] buffer: gate a in columns 0..f, up b in columns f..2f (as fused checkpoints store them).
    const fused = random.uniform(rows * 2 * f, -6, 6);
    const a = new Float32Array(rows * f);
    const b = new Float32Array(rows * f);
    for (let r = 0; r < rows; r++) {
      a.set(fused.subarray(r * 2 * f, r * 2 * f + f), r * f);
      b.set(fused.subarray(r * 2 * f + f, (r + 1) * 2 * f), r * f);
    }
    const fusedBuf = await scratch(rt, fused);
    const out = await poisoned(rt, rows * f);
    await swiglu(rt, {
      rows,
      cols: f,
      a: { buffer: fusedBuf, ld: 2 * f },
      b: { buffer: fusedBuf, ld: 2 * f, offset: f },
      out: { buffer: out },
    });
    expect(relativeError(await rt.readF32(out), gatedReference('silu', a, b))).toBeLessThanOrEqual(
      ACTIVATION_BOUND,
    );

    // In place: a ← gelu(a) · b, and x ← relu(x).
    const aBuf = await scratch(rt, a);
    await gatedActivation(rt, {
      fn: 'gelu',
      rows,
      cols: f,
      a: { buffer: aBuf },
      b: { buffer: await scratch(rt, b) },
    });
    expect(relativeError(await rt.readF32(aBuf), gatedReference('gelu', a, b))).toBeLessThanOrEqual(
      ACTIVATION_BOUND,
    );
    const xBuf = await scratch(rt, a);
    await activation(rt, { fn: 'relu', rows, cols: f, x: { buffer: xBuf } });
    expect(await rt.readF32(xBuf)).toEqual(Float32Array.from(a, (v) => activate('relu', v)));
  });

  it('adds a bias to every row of a strided block at an offset', async () => {
    const [rows, cols, ld] = [5, 9, 13];
    const random = new Random(4);
    const y0 = random.uniform(2 + rows * ld);
    const bias = random.uniform(cols + 1);
    const y = await scratch(rt, y0);
    await biasAdd(rt, {
      rows,
      cols,
      y: { buffer: y, ld, offset: 2 },
      bias: await scratch(rt, bias),
      offsetBias: 1,
    });
    const expected = y0.slice();
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        expected[2 + r * ld + c] = Math.fround((y0[2 + r * ld + c] as number) + (bias[1 + c] as number));
      }
    }
    expect(await rt.readF32(y)).toEqual(expected);
  });

  it('names the argument that is wrong', async () => {
    const x = await scratch(rt, new Float32Array(20));
    const y = await scratch(rt, new Float32Array(20));
    const bias = await scratch(rt, new Float32Array(4));
    await expect(
      activation(rt, { fn: 'swish' as 'silu', rows: 4, cols: 5, x: { buffer: x }, y: { buffer: y } }),
    ).rejects.toThrow(/fn must be one of gelu, gelu_tanh, relu, silu/);
    await expect(activation(rt, { fn: 'gelu', rows: 5, cols: 5, x: { buffer: x } })).rejects.toThrow(
      /activation gelu: x \(5×5.* needs 100 bytes/,
    );
    await expect(
      activation(rt, { fn: 'gelu', rows: 2, cols: 5, x: { buffer: x }, y: { buffer: x, offset: 10 } }),
    ).rejects.toThrow(/y shares a buffer with x/);
    await expect(
      gatedActivation(rt, {
        fn: 'silu',
        rows: 2,
        cols: 5,
        a: { buffer: x },
        b: { buffer: y },
        out: { buffer: y },
      }),
    ).rejects.toThrow(/out shares a buffer with b/);
    await expect(biasAdd(rt, { rows: 4, cols: 5, y: { buffer: y }, bias })).rejects.toThrow(
      /biasAdd: bias \(1×5/,
    );
  });
});
