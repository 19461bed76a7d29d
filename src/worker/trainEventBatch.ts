// A training run reports a step event per arm per step, each with Adapprox's rank and error per
// matrix: on a fast GPU that is hundreds of messages a second, each a structured clone and a
// re-render. They are batched (one message per interval, in order); none is dropped, because the
// steps are the run's record and the charts thin what they draw themselves.

export interface EventBatcher<E> {
  push(event: E): void;
  /** Sends what is queued now (call before any other message, to keep the order). */
  flush(): void;
}

/** `send` gets non-empty batches in the order the events were pushed, at most one per intervalMs unless flushed. */
export function trainEventBatcher<E>(send: (events: E[]) => void, intervalMs = 150): EventBatcher<E> {
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
