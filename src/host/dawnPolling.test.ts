import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dawnPollingPaced, isDawnPoll, paceDawnPolling } from './dawnPolling';
import { createNodeRuntime } from './nodeGpu';

describe('paceDawnPolling: a long wait’s polls on a timer, every other setImmediate untouched', () => {
  // Other test files in this process may have paced the polls already (createNodeRuntime does).
  let wasPaced: boolean;
  let nodeImmediate: typeof setImmediate;
  beforeEach(() => {
    wasPaced = dawnPollingPaced();
    paceDawnPolling(false);
    nodeImmediate = globalThis.setImmediate;
  });
  afterEach(() => {
    vi.restoreAllMocks();
    paceDawnPolling(false);
    paceDawnPolling(wasPaced);
  });

  it("tells Dawn's poll (an anonymous native function) from JavaScript and bound callbacks", () => {
    // Function.prototype is an anonymous native function, as Dawn's poll is.
    expect(isDawnPoll(Function.prototype)).toBe(true);
    expect(isDawnPoll(() => {})).toBe(false);
    expect(isDawnPoll(Math.max)).toBe(false);
    expect(isDawnPoll((() => {}).bind(null))).toBe(false);
    expect(isDawnPoll('() => {}')).toBe(false);
  });

  it('runs a wait’s first polls as immediates and, once it has spun 0.5 ms, the next on a 1 ms timer', async () => {
    // Polls stand-ins: JavaScript callbacks the predicate takes for Dawn's. Each spins 0.3 ms and
    // schedules the next from inside itself, as Dawn's does, until the fifth.
    const polls = new Set<unknown>();
    paceDawnPolling(true, (callback) => polls.has(callback));
    const timer = vi.spyOn(globalThis, 'setTimeout');
    const ran: number[] = [];
    // Timers set before each poll ran.
    const timersBefore: number[] = [];
    await new Promise<void>((done) => {
      const poll = (n: number) => {
        ran.push(n);
        timersBefore.push(timer.mock.calls.filter((call) => call[1] === 1).length);
        const until = performance.now() + 0.3;
        while (performance.now() < until);
        if (n < 5) globalThis.setImmediate(poll, n + 1);
        else done();
      };
      polls.add(poll);
      globalThis.setImmediate(poll, 1);
    });
    expect(ran).toEqual([1, 2, 3, 4, 5]);
    // Poll 1 started the wait: an immediate. Poll 2 was scheduled 0.3 ms in (an immediate unless the
    // machine stalled this process), polls 3 to 5 from 0.6 ms on: on the timer.
    expect(timersBefore[0]).toBe(0);
    expect(timersBefore[4] as number).toBeGreaterThanOrEqual(3);

    // A new wait (scheduled from outside a poll) starts as an immediate again.
    timer.mockClear();
    await new Promise<void>((done) => {
      const poll = () => done();
      polls.add(poll);
      globalThis.setImmediate(poll);
    });
    expect(timer.mock.calls.filter((call) => call[1] === 1)).toHaveLength(0);
  });

  it('passes other callbacks to Node with their arguments, and gives its setImmediate back', async () => {
    paceDawnPolling(true);
    const paced = globalThis.setImmediate;
    expect(paced).not.toBe(nodeImmediate);
    paceDawnPolling(true);
    expect(globalThis.setImmediate).toBe(paced);
    const ran: string[] = [];
    await new Promise<void>((done) => {
      globalThis.setImmediate((tag: string) => ran.push(tag), 'js');
      globalThis.setImmediate(done);
    });
    expect(ran).toEqual(['js']);
    paceDawnPolling(false);
    expect(globalThis.setImmediate).toBe(nodeImmediate);
    expect(dawnPollingPaced()).toBe(false);
  });

  it('is on for a runtime on the CPU adapter, whose read-backs still settle', async () => {
    const rt = await createNodeRuntime();
    try {
      expect(dawnPollingPaced()).toBe(rt.capability.isFallbackAdapter);
      const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
      const buffer = await rt.upload('paced read-back', 'scratch', values);
      expect(await rt.readF32(buffer.buffer)).toEqual(values);
      buffer.destroy();
    } finally {
      rt.destroy();
    }
  });
});
