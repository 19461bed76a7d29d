// The GPU work beside each benchmark row's timings: read-backs (GPU→CPU copies waited for), bytes
// read back, dispatches and submissions, from the runtime's counters (src/gpu/runtime.ts), and the
// GPU time on the GPU's own clock where the adapter has timestamp-query. Counts are taken on timed
// runs (counting is free); GPU time on a separate run under timestamps, which slow the wall clock.

import type { GpuCounters } from '../src/gpu/runtime';
import { num } from './table';

export interface BenchCounters {
  readbacks: number;
  bytesRead: number;
  dispatches: number;
  submissions: number;
  /** GPU ms from timestamp queries; null without timestamp-query. */
  gpuMs: number | null;
}

/** Each count's median over the timed runs (they differ only where the work adapts, e.g. a rank). */
export function medianCounts(runs: readonly GpuCounters[], gpuMs: number | null): BenchCounters {
  const median = (key: keyof GpuCounters) => {
    const s = runs.map((r) => r[key]).sort((a, b) => a - b);
    return s.length ? (s[Math.floor(s.length / 2)] as number) : Number.NaN;
  };
  return {
    readbacks: median('readbacks'),
    bytesRead: median('bytesRead'),
    dispatches: median('dispatches'),
    submissions: median('submissions'),
    gpuMs,
  };
}

/** GPU ms of a profile (ns per kernel label), or null when there was none. */
export function profiledMs(totals: Map<string, number> | null): number | null {
  if (!totals) return null;
  let ns = 0;
  for (const v of totals.values()) ns += v;
  return ns / 1e6;
}

export const COUNTER_HEADS = ['read-backs', 'kB read', 'dispatches', 'submits', 'GPU ms'] as const;

export function counterCells(c: BenchCounters | null | undefined): string[] {
  if (!c) return COUNTER_HEADS.map(() => '–');
  return [
    String(c.readbacks),
    num(c.bytesRead / 1000),
    String(c.dispatches),
    String(c.submissions),
    c.gpuMs === null ? 'n/a' : num(c.gpuMs, 4),
  ];
}
