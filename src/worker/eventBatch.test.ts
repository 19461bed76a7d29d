import { afterEach, describe, expect, it, vi } from 'vitest';
import { eventBatcher } from './eventBatch';

describe('event batches', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends every event once, in order, at most one batch per interval unless flushed', () => {
    vi.useFakeTimers();
    const sent: number[][] = [];
    const batcher = eventBatcher<number>((events) => sent.push(events), 100);
    batcher.push(1);
    batcher.push(2);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(sent).toEqual([[1, 2]]);
    batcher.push(3);
    batcher.flush();
    batcher.flush();
    expect(sent).toEqual([[1, 2], [3]]);
    // The flushed batch's timer is gone: nothing more arrives.
    vi.advanceTimersByTime(500);
    expect(sent).toEqual([[1, 2], [3]]);
  });
});
