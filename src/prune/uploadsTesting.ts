// For the FISTA tests: the runtime and the uploads a describe block's tests share, instead of the
// same beforeAll/afterAll pair in each file.

import { afterAll, beforeAll } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { TestUploads } from './fista.reference';

/**
 * A runtime at the device's own limits and TestUploads on it, made before the calling describe
 * block's tests and freed after them. Read the fields inside a test.
 */
export function sharedUploads(): { readonly rt: GpuRuntime; readonly uploads: TestUploads } {
  const held = {} as { rt: GpuRuntime; uploads: TestUploads };
  beforeAll(async () => {
    held.rt = await createNodeRuntime();
    held.uploads = new TestUploads(held.rt);
  });
  afterAll(() => {
    held.uploads.destroy();
    held.rt.destroy();
  });
  return held;
}
