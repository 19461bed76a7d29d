// The ledger notifies on every allocation, and a kernel check allocates a uniform buffer per
// dispatch: forwarding each one would flood the host's channel (the worker's to the page, which
// re-renders on each) for nothing. A trailing call makes sure the last change is always delivered.

export interface Throttled {
  (): void;
  /** Drops a pending trailing call. */
  cancel(): void;
}

export function throttle(fn: () => void, intervalMs: number): Throttled {
  let last = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const fire = () => {
    timer = undefined;
    last = performance.now();
    fn();
  };

  const throttled = (() => {
    if (timer !== undefined) return;
    const wait = last + intervalMs - performance.now();
    if (wait <= 0) fire();
    else timer = setTimeout(fire, wait);
  }) as Throttled;

  throttled.cancel = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return throttled;
}
