// The pruning engine reports every FISTA iteration of every λ round of every operator: K·T events
// per operator, thousands per block of a large model, each of which would be a structured clone and
// a re-render on the UI thread. They are batched (one message per interval, order kept) and long
// solves are thinned to what a chart can show. Nothing else is ever dropped: λ rounds, operators,
// blocks and statistics passes are the record of the run.

import type { PruneEvent } from '../prune/events';
import { type EventBatcher, eventBatcher } from './eventBatch';

/** Every iteration of a round up to here is sent… */
export const DENSE_ITERATIONS = 50;
/** …then about this many more, evenly spread over the rest of the round. */
export const SPARSE_ITERATIONS = 50;

/**
 * Whether objective `iteration` (0-based: the start, then one per FISTA iteration) of a round that
 * reports `objectives` of them is sent. The last always is.
 */
export function keepIteration(iteration: number, objectives: number): boolean {
  if (iteration < DENSE_ITERATIONS || iteration >= objectives - 1) return true;
  const stride = Math.ceil((objectives - DENSE_ITERATIONS) / SPARSE_ITERATIONS);
  return (iteration - DENSE_ITERATIONS) % stride === stride - 1;
}

export interface PruneEventBatcher extends EventBatcher<PruneEvent> {
  /** Drops the pending timer (the queue is flushed first). */
  close(): void;
}

/**
 * `objectives`: how many a round reports (K + 1: the start and each iteration), to thin
 * 'fista-iteration' events; `send` gets non-empty batches in the order the events were pushed, at
 * most one per `intervalMs` unless flushed.
 */
export function pruneEventBatcher(
  objectives: number,
  send: (events: PruneEvent[]) => void,
  intervalMs = 100,
): PruneEventBatcher {
  const batcher = eventBatcher(send, intervalMs);
  return {
    push(event) {
      if (event.type === 'fista-iteration' && !keepIteration(event.iteration, objectives)) return;
      batcher.push(event);
    },
    flush: batcher.flush,
    close: batcher.flush,
  };
}
