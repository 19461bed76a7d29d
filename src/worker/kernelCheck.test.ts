import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuDeviceLostError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import type { KernelCheckEvent } from './api';
import { runKernelCheck } from './kernelCheck';

// The same job the worker runs, on Dawn in Node: the event protocol the UI relies on, checked
// without a browser. Runs are stopped early; the full suite is covered by src/kernels and e2e.
describe('runKernelCheck', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
  });
  afterAll(() => rt.destroy());

  async function runUntil(stopAfter: number, reason?: unknown) {
    const events: KernelCheckEvent[] = [];
    const controller = new AbortController();
    const outcome = await runKernelCheck(
      rt,
      { seed: 1234, timedRuns: 0 },
      (event) => {
        events.push(event);
        if (event.type === 'result' && event.done === stopAfter) controller.abort(reason);
      },
      controller.signal,
    );
    return { events, outcome };
  }

  it('starts with the seed and total, streams results in order, and ends once', async () => {
    const { events, outcome } = await runUntil(2);
    expect(events[0]).toEqual({ type: 'started', total: expect.any(Number), seed: 1234 });
    const results = events.filter((e) => e.type === 'result');
    expect(results.map((e) => e.done)).toEqual([1, 2]);
    for (const e of results) expect(e.result.passed, e.result.failure).toBe(true);
    expect(outcome).toEqual({ type: 'cancelled', done: 2, total: expect.any(Number) });
    expect(events.at(-1)).toEqual(outcome);
    expect(events.filter((e) => ['finished', 'cancelled', 'error'].includes(e.type))).toHaveLength(1);
  });

  it('reports memory from the ledger, and frees what the cases allocated', async () => {
    const { events } = await runUntil(1);
    const memory = events.filter((e) => e.type === 'memory');
    expect(memory.length).toBeGreaterThan(0);
    // Throttled: far fewer messages than the ledger's per-allocation notifications.
    expect(memory.length).toBeLessThan(10);
    const last = memory.at(-1);
    expect(last?.peakBytes).toBeGreaterThan(0);
    // Only reusable staging buffers may outlive a case.
    expect(rt.ledger.bytesIn('scratch')).toBe(0);
  });

  it('ends with a typed error, not a cancel, when aborted by a lost device', async () => {
    const { outcome } = await runUntil(1, new GpuDeviceLostError('unknown', 'test'));
    expect(outcome).toMatchObject({ type: 'error', kind: 'device-lost' });
    expect(outcome.type === 'error' && outcome.advice.length).toBeGreaterThan(0);
  });
});
