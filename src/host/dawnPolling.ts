// Dawn's Node bindings settle every pending promise (mapAsync, onSubmittedWorkDone, pipeline
// creation) by polling: each poll schedules the next through the global setImmediate, so while the
// host waits for the GPU, one core spins at 100%. On a GPU that costs a core of the host and
// nothing else. On a CPU adapter (SwiftShader) the GPU's work runs on the same cores, and the spin
// takes one away from it: on this project's two-core machine it made the S-RSI of a training step
// 1.7 times slower and the Vitest suite of src/kernels and src/train/optim 1.6 times slower
// (docs/testing.md, "Dawn's polling"; bench/README.md, "Issue 12: Dawn's polling, the S-RSI's
// barriers and 8 × 8 blocks"). Dawn looks setImmediate up on the global object at every poll, and
// its poll is an anonymous native function, so a global setImmediate that hands such callbacks to
// a 1 ms timer, once a wait has spun for SPIN_MS, paces Dawn's polls and passes everything else
// through unchanged.

/** An anonymous native function: what Dawn hands setImmediate (a bound function is named "bound …"). */
export function isDawnPoll(callback: unknown): boolean {
  return (
    typeof callback === 'function' &&
    callback.name === '' &&
    Function.prototype.toString.call(callback).endsWith('{ [native code] }')
  );
}

/**
 * How long a wait's polls still run as immediates before the timer takes over, in ms. Most waits
 * end within a poll or two (a buffer's error scopes, a small read-back): they keep Dawn's latency.
 */
const SPIN_MS = 0.5;

let nodeImmediate: typeof setImmediate | undefined;

/**
 * Paces Dawn's polls (true): a wait's polls run as immediates for its first SPIN_MS, then on a
 * 1 ms timer; or gives Node's own setImmediate back (false). Process-wide: while on,
 * globalThis.setImmediate is a wrapper that passes every other callback straight to Node's.
 * `isPoll` tells Dawn's polls from the rest (tests pass their own).
 */
export function paceDawnPolling(on: boolean, isPoll: (callback: unknown) => boolean = isDawnPoll): void {
  if (on && !nodeImmediate) {
    const immediate = globalThis.setImmediate;
    nodeImmediate = immediate;
    // A poll that Dawn schedules from inside its previous poll continues that wait; any other
    // starts a new one.
    let polling = false;
    let waitStart = 0;
    const poll = (callback: (...args: unknown[]) => void, args: unknown[]) => {
      polling = true;
      try {
        callback(...args);
      } finally {
        polling = false;
      }
    };
    const paced = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
      if (!isPoll(callback)) return immediate(callback, ...args);
      const now = performance.now();
      if (!polling) waitStart = now;
      return now - waitStart < SPIN_MS
        ? immediate(poll, callback, args)
        : setTimeout(poll, 1, callback, args);
    }) as typeof setImmediate;
    // Keeps what hangs off Node's function (util.promisify's custom form).
    globalThis.setImmediate = Object.assign(paced, immediate);
  } else if (!on && nodeImmediate) {
    globalThis.setImmediate = nodeImmediate;
    nodeImmediate = undefined;
  }
}

/** Whether Dawn's polls are paced now. */
export function dawnPollingPaced(): boolean {
  return nodeImmediate !== undefined;
}
