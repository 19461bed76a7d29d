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
 * For a describe block: a runtime at the device's own limits and one at TINY_LIMITS, handed to
 * `use` before its tests and destroyed after them.
 */
export function withKernelRuntimes(use: (full: GpuRuntime, tiny: GpuRuntime) => void): void {
  let made: GpuRuntime[] = [];
  beforeAll(async () => {
    made = [await createNodeRuntime(), await createTinyRuntime()];
    use(made[0] as GpuRuntime, made[1] as GpuRuntime);
  });
  afterAll(() => {
    for (const rt of made) rt.destroy();
  });
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
