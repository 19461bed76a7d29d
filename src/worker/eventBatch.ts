// A job's engine events come faster than the page needs them (every statistics pass, operator and
// λ round of a pruning run on a small model; a step per arm per step of a training run, each with
// Adapprox's rank per matrix): each
// message is a structured clone and a re-render. They are batched instead, one message per
// interval, in the order they were pushed.

export interface EventBatcher<E> {
  push(event: E): void;
  /** Sends what is queued now (call before any other message, to keep the order). */
  flush(): void;
}

/** `send` gets non-empty batches in the order the events were pushed, at most one per intervalMs unless flushed. */
export function eventBatcher<E>(send: (events: E[]) => void, intervalMs: number): EventBatcher<E> {
  let queue: E[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    send(batch);
  };
  return {
    push(event) {
      queue.push(event);
      timer ??= setTimeout(flush, intervalMs);
    },
    flush,
  };
}
