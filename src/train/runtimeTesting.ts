// For the training engine's GPU tests: the runtime a describe block's tests share, and test data
// uploaded to a runtime, instead of the same beforeAll/afterAll pair and upload helper in each file.

import { afterAll, beforeAll } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';

/**
 * A runtime at the device's own limits, made before the calling describe block's tests and
 * destroyed after them. Read `.rt` inside a test (it does not exist before the block starts).
 */
export function sharedRuntime(): { readonly rt: GpuRuntime } {
  const held = {} as { rt: GpuRuntime };
  beforeAll(async () => {
    held.rt = await createNodeRuntime();
  });
  afterAll(() => held.rt.destroy());
  return held;
}

/** Uploads test data to a runtime in the 'scratch' category under `label`; gives the buffer. */
export function uploader(label: string) {
  return async (rt: GpuRuntime, data: Float32Array | Uint32Array): Promise<GPUBuffer> =>
    (await rt.upload(label, 'scratch', data)).buffer;
}

/**
 * Runs `use` on a runtime whose limits are capped at `capLimits` (tiny bindings and workgroup
 * grids force the windowed, multi-dispatch and folded-grid paths), destroyed after it, passed or not.
 */
export async function onCappedRuntime(
  capLimits: { maxStorageBufferBindingSize: number; maxComputeWorkgroupsPerDimension: number },
  use: (tiny: GpuRuntime) => Promise<void>,
): Promise<void> {
  const tiny = await createNodeRuntime({ capLimits });
  try {
    await use(tiny);
  } finally {
    tiny.destroy();
  }
}
