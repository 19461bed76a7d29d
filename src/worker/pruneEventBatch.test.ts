import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PruneEvent } from '../prune/events';
import { DENSE_ITERATIONS, keepIteration, pruneEventBatcher } from './pruneEventBatch';

const iteration = (i: number): PruneEvent => ({
  type: 'fista-iteration',
  block: 0,
  operator: 'q',
  round: 0,
  iteration: i,
  objective: 1 / (i + 1),
});

describe('thinning FISTA iterations', () => {
  it('keeps every objective of a round of up to 100', () => {
    for (const k of [0, 5, 20, 50, 99])
      for (let i = 0; i <= k; i++) expect(keepIteration(i, k + 1), `${i} of ${k + 1}`).toBe(true);
  });

  it('keeps the first 50, at most 50 more spread evenly, and the last of a long round', () => {
    for (const k of [101, 1000, 10_001]) {
      const kept = Array.from({ length: k }, (_, i) => i).filter((i) => keepIteration(i, k));
      expect(kept.slice(0, DENSE_ITERATIONS)).toEqual(Array.from({ length: DENSE_ITERATIONS }, (_, i) => i));
      expect(kept.at(-1)).toBe(k - 1);
      if (k >= 1000) expect(kept.length).toBeGreaterThan(DENSE_ITERATIONS + 40);
      expect(kept.length).toBeLessThanOrEqual(DENSE_ITERATIONS + 52);
    }
  });
});

describe('batching engine events', () => {
  afterEach(() => vi.useRealTimers());

  it('sends one batch per interval, in order, and never drops other events', () => {
    vi.useFakeTimers();
    const batches: PruneEvent[][] = [];
    const batcher = pruneEventBatcher(1000, (events) => batches.push(events), 100);
    const round: PruneEvent = {
      type: 'lambda-round',
      block: 0,
      operator: 'q',
      round: 0,
      lambda: 1,
      lo: 0,
      hi: null,
      sparsityBeforeThreshold: 0.3,
      errorTotal: 2,
      errorRound: 1,
      best: true,
    };
    for (let i = 0; i < 1000; i++) batcher.push(iteration(i));
    batcher.push(round);
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(100);
    expect(batches).toHaveLength(1);
    const batch = batches[0] as PruneEvent[];
    expect(batch.at(-1)).toBe(round);
    expect(batch.length).toBeLessThan(110);
    const its = batch.flatMap((e) => (e.type === 'fista-iteration' ? [e.iteration] : []));
    expect(its).toEqual([...its].sort((a, b) => a - b));

    batcher.push(round);
    batcher.flush();
    expect(batches).toHaveLength(2);
    vi.advanceTimersByTime(500);
    expect(batches).toHaveLength(2);
    batcher.flush();
    expect(batches).toHaveLength(2);
  });
});
