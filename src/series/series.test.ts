import { describe, expect, it } from 'vitest';
import { thinSeries } from './series';

describe('thinning a series', () => {
  const n = 1001;
  const series = {
    name: 's',
    xUnit: 'iteration',
    x: Array.from({ length: n }, (_, i) => i),
    y: Array.from({ length: n }, (_, i) => -i),
  };

  it('keeps at most the points asked for, evenly strided, the first and last always', () => {
    for (const max of [2, 3, 10, 100, 101, 1000]) {
      const s = thinSeries(series, max);
      const stride = Math.ceil((n - 1) / (max - 1));
      expect(s.x.length, `max ${max}`).toBeLessThanOrEqual(max);
      expect(s.x[0]).toBe(0);
      expect(s.x.at(-1)).toBe(n - 1);
      // Every point but the last sits on the stride; the values go with their x.
      expect(s.x.slice(0, -1).every((x) => x % stride === 0)).toBe(true);
      expect(s.y).toEqual(s.x.map((x) => -x));
      expect(s.xUnit).toBe('iteration');
    }
    // 1001 points at most 101: every tenth, exactly 101 of them.
    expect(thinSeries(series, 101).x).toHaveLength(101);
  });

  it('returns a series already short enough as it is', () => {
    expect(thinSeries(series, n)).toBe(series);
  });

  it('refuses fewer than two points, and a series whose x and y differ in length', () => {
    expect(() => thinSeries(series, 1)).toThrow(/maxPoints must be ≥ 2, got 1/);
    expect(() => thinSeries(series, 2.5)).toThrow(/got 2.5/);
    expect(() => thinSeries({ name: 'bad', x: [1, 2], y: [1] }, 5)).toThrow(
      'series "bad" has 2 x and 1 y values',
    );
  });
});
