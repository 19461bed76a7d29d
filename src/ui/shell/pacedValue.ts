// A live job's charts redraw from a value that changes with every batch of engine events (a
// training run sends one every 150 ms). Drawing recharts' SVG for a few series of 400 points can
// take longer than that on a CPU shared with a software GPU: every batch then queued another render,
// the page fell behind without bound and stopped answering clicks (measured in Chromium on
// SwiftShader, 2026-12-04: the main thread's reply time grew from 0.3 s to 9 s over 400 arm-steps
// of the nano preset, and Pause could not be clicked). So the charts see the value at a pace set
// by what drawing it costs: never sooner than MIN_INTERVAL_MS after the last drawing, nor sooner
// than COST_FACTOR times that drawing's own time, which leaves the page most of its time for input
// and the cheap parts (progress, status, tables) that follow every event.

import { useEffect, useRef, useState } from 'react';

export const MIN_INTERVAL_MS = 500;
/** Drawing gets at most 1 / (1 + COST_FACTOR) of the page's time while a job runs. */
export const COST_FACTOR = 3;

/** Milliseconds to wait before showing a newer value, given when the last one was drawn and what that cost. */
export function pacedDelay(now: number, lastDrawnAt: number, lastCostMs: number): number {
  const interval = Math.max(MIN_INTERVAL_MS, COST_FACTOR * lastCostMs);
  return Math.max(0, lastDrawnAt + interval - now);
}

/**
 * `value` while `live` is false (a finished, paused or idle job shows its latest state at once);
 * while live, the value as of the last paced update. A drawing's cost runs from the update to the
 * first task after its commit, so the renders recharts starts from its own effects are counted.
 */
export function usePacedValue<T>(value: T, live: boolean): T {
  const [shown, setShown] = useState(value);
  const requestedAt = useRef<number | null>(null);
  const drawn = useRef({ at: Number.NEGATIVE_INFINITY, costMs: 0 });

  // biome-ignore lint/correctness/useExhaustiveDependencies: measures each commit of a new shown value
  useEffect(() => {
    const started = requestedAt.current;
    if (started === null) return;
    requestedAt.current = null;
    const timer = setTimeout(() => {
      const now = performance.now();
      drawn.current = { at: now, costMs: now - started };
    }, 0);
    return () => clearTimeout(timer);
  }, [shown]);

  useEffect(() => {
    if (Object.is(value, shown)) return;
    // Not live, the caller gets `value` itself; keeping `shown` level with it means a resumed run
    // does not first draw an older state.
    if (!live) {
      setShown(() => value);
      return;
    }
    // The deadline follows the last drawing, not this value's arrival, so values that keep coming
    // do not keep postponing it; the latest one is drawn when it passes.
    const timer = setTimeout(
      () => {
        requestedAt.current = performance.now();
        setShown(() => value);
      },
      pacedDelay(performance.now(), drawn.current.at, drawn.current.costMs),
    );
    return () => clearTimeout(timer);
  }, [value, shown, live]);

  return live ? shown : value;
}
