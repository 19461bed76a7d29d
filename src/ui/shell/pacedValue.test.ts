import { describe, expect, it } from 'vitest';
import { COST_FACTOR, MIN_INTERVAL_MS, pacedDelay } from './pacedValue';

describe('pacedDelay', () => {
  it('draws at once when nothing has been drawn yet', () => {
    expect(pacedDelay(12.5, Number.NEGATIVE_INFINITY, 0)).toBe(0);
  });

  it('waits the minimum interval after a cheap drawing, counted from that drawing', () => {
    expect(pacedDelay(1000, 1000, 5)).toBe(MIN_INTERVAL_MS);
    expect(pacedDelay(1000 + 120, 1000, 5)).toBe(MIN_INTERVAL_MS - 120);
    expect(pacedDelay(1000 + MIN_INTERVAL_MS + 1, 1000, 5)).toBe(0);
  });

  it('waits COST_FACTOR times a costly drawing, so drawing keeps to its share of the time', () => {
    const cost = 400;
    expect(COST_FACTOR * cost).toBeGreaterThan(MIN_INTERVAL_MS);
    expect(pacedDelay(5000, 5000, cost)).toBe(COST_FACTOR * cost);
    expect(pacedDelay(5000 + cost, 5000, cost)).toBe((COST_FACTOR - 1) * cost);
  });

  it('shows the value when the interval since the drawing has passed, or now if it has, for random times', () => {
    for (let i = 0; i < 1000; i++) {
      const drawnAt = Math.random() * 1e6;
      const cost = Math.random() * 3000;
      const now = drawnAt + Math.random() * 1e4;
      const interval = Math.max(MIN_INTERVAL_MS, COST_FACTOR * cost);
      const delay = pacedDelay(now, drawnAt, cost);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(now + delay).toBeCloseTo(Math.max(now, drawnAt + interval), 6);
    }
  });
});
