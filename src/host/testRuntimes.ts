// The Node runtimes tests run on: one at deliberately tiny limits, the pair most kernel tests
// want, and runtimes handed out as the hosts hand them out, for tests that lose a device on purpose.

import { afterAll, beforeAll } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from './nodeGpu';

/**
 * 2 KiB bindings (448 f32 a window after the offset alignment's slack) and 3 workgroups a
 * dimension: every kernel goes through its windowed, multi-dispatch and folded-grid paths.
 */
export const TINY_LIMITS = { maxStorageBufferBindingSize: 2048, maxComputeWorkgroupsPerDimension: 3 };

export function createTinyRuntime(): Promise<GpuRuntime> {
  return createNodeRuntime({ capLimits: TINY_LIMITS });
}

/**
 * For a describe block (or a whole file): a runtime at the device's own limits (or capped at
 * `capLimits`, e.g. TINY_LIMITS), handed to `use` before its tests and destroyed after them.
 */
export function withNodeRuntime(use: (rt: GpuRuntime) => void, capLimits?: typeof TINY_LIMITS): void {
  let made: GpuRuntime | undefined;
  beforeAll(async () => {
    made = await createNodeRuntime(capLimits && { capLimits });
    use(made);
  });
  afterAll(() => made?.destroy());
}

/** The two runtimes of `withKernelRuntimes`, to be called inside tests (they exist from beforeAll on). */
export interface KernelRuntimes {
  /** At the device's own limits. */
  full(): GpuRuntime;
  /** At TINY_LIMITS. */
  tiny(): GpuRuntime;
  /** Both, each with the words a test's name gives it: `for (const [label, runtime] of both)`. */
  readonly both: readonly (readonly [string, () => GpuRuntime])[];
}

/**
 * For a describe block: a runtime at the device's own limits and one at TINY_LIMITS, made before
 * its tests and destroyed after them, so each check can run through the kernels' single-dispatch
 * paths and their windowed, multi-dispatch and folded-grid ones.
 */
export function withKernelRuntimes(): KernelRuntimes {
  let made: [GpuRuntime, GpuRuntime] | undefined;
  beforeAll(async () => {
    made = [await createNodeRuntime(), await createTinyRuntime()];
  });
  afterAll(() => {
    for (const rt of made ?? []) rt.destroy();
  });
  const get = (which: 0 | 1) => (): GpuRuntime => {
    if (!made)
      throw new Error('the kernel runtimes are made in beforeAll: call full() or tiny() inside a test');
    return made[which];
  };
  const full = get(0);
  const tiny = get(1);
  return {
    full,
    tiny,
    both: [
      ['default limits', full],
      ['2 KiB bindings', tiny],
    ],
  };
}

/**
 * As the hosts hand runtimes out (the CLI's withRuntimes, the worker's RuntimeSlot): the same one
 * while its device lives and a new one after, with every one made kept so the test can count them
 * and destroy them at the end.
 */
export class ReacquiringRuntimes {
  readonly made: GpuRuntime[] = [];
  /** The runtime `acquire` gives now; undefined before the first call. */
  current: GpuRuntime | undefined;

  acquire = async (): Promise<GpuRuntime> => {
    if (!this.current || this.current.isLost) {
      this.current = await createNodeRuntime();
      this.made.push(this.current);
    }
    return this.current;
  };

  destroyAll(): void {
    for (const rt of this.made) if (!rt.isLost) rt.destroy();
  }
}
