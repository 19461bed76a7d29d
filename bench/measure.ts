// Timing. A GPU run is timed from just before the kernel wrapper encodes and submits to the moment
// `await rt.sync()` (queue.onSubmittedWorkDone) resolves, so it includes encoding, submission and
// the completion round trip, as a caller of the engine sees it. Every case runs once untimed first
// (pipeline compilation, lazy buffer clears, JIT warm-up), then N timed runs; the median is reported.

import { performance } from 'node:perf_hooks';
import { WorkMeter, withGpuClock } from '../src/gpu/meter';
import type { GpuRuntime } from '../src/gpu/runtime';

export interface Timing {
  /** The untimed warm-up run, measured anyway (includes pipeline compilation). */
  firstMs: number;
  timesMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The GPU time (ms) of one more run of `once`, on the GPU's clock (timestamp queries around every
 * compute pass it records): the kernels alone, without the host's recording and the completion
 * round trip that the wall time includes. Null where the adapter has no timestamp queries.
 */
export function gpuMsOf(rt: GpuRuntime, once: () => Promise<void> | void): Promise<number | null> {
  return withGpuClock(rt, true, async () => {
    const meter = WorkMeter.start(rt);
    await once();
    return (await meter.read()).gpuMs;
  });
}

/** Runs `once` 1 + runs times (the first untimed) and returns the timings in milliseconds. */
export async function timeRuns(runs: number, once: () => Promise<void> | void): Promise<Timing> {
  let t = performance.now();
  await once();
  const firstMs = performance.now() - t;
  const timesMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    t = performance.now();
    await once();
    timesMs.push(performance.now() - t);
  }
  return {
    firstMs,
    timesMs,
    medianMs: median(timesMs),
    minMs: Math.min(...timesMs),
    maxMs: Math.max(...timesMs),
  };
}
