// What a unit of work (a pruned operator, a block, a training step, an evaluation) asked of the
// GPU: the runtime's counters over it (read-backs, bytes read, dispatches, submissions, writes),
// its GPU time on the GPU's own clock and its wall time. Jobs put these in their events, results
// and run records, and the benchmark beside its timings (docs/engine.md, "Counters").

import { addCounters, countersSince, type GpuCounters, type GpuRuntime, zeroCounters } from './runtime';

export interface WorkCounters extends GpuCounters {
  /**
   * GPU time of the work's compute passes (timestamp queries, see GpuRuntime.startGpuClock), ms;
   * null where the adapter has no timestamp-query or the GPU clock was not running.
   */
  gpuMs: number | null;
  /** Wall time, ms. */
  wallMs: number;
}

export function zeroWork(): WorkCounters {
  return { ...zeroCounters(), gpuMs: 0, wallMs: 0 };
}

/** a + b, field by field; the GPU time is null when either's is. */
export function addWork(a: WorkCounters, b: WorkCounters): WorkCounters {
  return {
    ...addCounters(a, b),
    gpuMs: a.gpuMs === null || b.gpuMs === null ? null : a.gpuMs + b.gpuMs,
    wallMs: a.wallMs + b.wallMs,
  };
}

export function sumWork(parts: readonly WorkCounters[]): WorkCounters {
  return parts.reduce(addWork, zeroWork());
}

/** A part divided by a count (per step, per window), as counts over many units are reported. */
export function perUnit(total: WorkCounters, units: number): WorkCounters {
  const out = zeroWork();
  for (const key of Object.keys(out) as (keyof WorkCounters)[]) {
    const value = total[key];
    (out as unknown as Record<string, number | null>)[key] = value === null ? null : value / units;
  }
  return out;
}

/**
 * Counts from start() to read(). Take start() where the work begins and read() after the work's
 * own last read-back or sync: read() submits whatever is still recorded (so the counts and the
 * GPU time cover it) and then waits only for the background read of the timestamps of work the
 * GPU has already finished, never for a read-back of its own.
 */
export class WorkMeter {
  private constructor(
    private readonly rt: GpuRuntime,
    private readonly counts: GpuCounters,
    private readonly clock: Promise<number> | null,
    private readonly started: number,
  ) {}

  static start(rt: GpuRuntime): WorkMeter {
    return new WorkMeter(rt, rt.counters(), rt.gpuClock(), performance.now());
  }

  async read(): Promise<WorkCounters> {
    this.rt.flush();
    const counts = countersSince(this.rt.counters(), this.counts);
    const wallMs = performance.now() - this.started;
    const end = this.clock ? this.rt.gpuClock() : null;
    let gpuMs: number | null = null;
    if (this.clock && end) {
      const ns = (await end) - (await this.clock);
      gpuMs = Number.isFinite(ns) ? ns / 1e6 : null;
    }
    return { ...counts, gpuMs, wallMs };
  }
}

/**
 * Runs `work` with the GPU clock held (when `on` and the adapter has timestamp-query), so WorkMeters
 * inside it report GPU time; the clock is released however `work` ends. Timing every pass has a
 * price: a pruning run on SwiftShader took about a fifth longer with it. So `on` defaults to
 * whether the adapter is a real GPU (not a fallback, CPU, adapter); jobs pass their option through.
 */
export async function withGpuClock<T>(
  rt: GpuRuntime,
  on: boolean | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const held = (on ?? !rt.capability.isFallbackAdapter) && rt.startGpuClock();
  try {
    return await work();
  } finally {
    if (held) rt.stopGpuClock();
  }
}
