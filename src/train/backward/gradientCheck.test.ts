import { describe, expect, it } from 'vitest';
import { centralDifferences } from './gradientCheck';

describe('centralDifferences', () => {
  it('widens a step below half an ulp of x instead of dividing 0 by 0', () => {
    // 2.25 has an f32 ulp of 2^-22, so a step of 2^-23 rounds both ways back to 2.25 (ties to
    // even): the case that made a one-wide LayerNorm row's differences NaN.
    const x = new Float32Array([2.25, 0.5]);
    const loss = (v: Float32Array) => 3 * (v[0] as number) ** 2 + (v[1] as number);
    const d = centralDifferences(loss, x, 2 ** -23, { estimate: true });
    expect(d.grad[0]).toBeCloseTo(13.5, 5);
    expect(d.grad[1]).toBeCloseTo(1, 10);
    expect(Number.isFinite(d.error)).toBe(true);
    expect(Array.from(x), 'x is restored').toEqual([2.25, 0.5]);
  });
});
