import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { freshSeed } from './random';
import { type KernelCase, kernelSuite } from './suite';

// Every case draws fresh inputs; the seed is in the failure message so a failure can be replayed.
function runCases(label: string, cases: KernelCase[], runtime: () => GpuRuntime) {
  for (const kernelCase of cases) {
    it(`${kernelCase.name} ${kernelCase.shape}`, async () => {
      const seed = freshSeed();
      const result = await kernelCase.run(runtime(), seed, 0);
      expect(result.failure, `${label} seed ${seed}`).toBeUndefined();
      expect(
        result.error,
        `${label} seed ${seed}: error ${result.error} > bound ${result.bound}`,
      ).toBeLessThanOrEqual(result.bound);
      expect(result.passed).toBe(true);
    });
  }
}

describe('kernel suite at the device limits', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
  });
  afterAll(() => rt.destroy());
  runCases('full limits', kernelSuite('check'), () => rt);
});

describe('kernel suite under a tiny binding limit and workgroup grid', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    // 2 KiB bindings and 3 workgroups per dimension force every kernel through its windowed,
    // multi-dispatch and folded-grid paths.
    rt = await createNodeRuntime({
      capLimits: { maxStorageBufferBindingSize: 2048, maxComputeWorkgroupsPerDimension: 3 },
    });
  });
  afterAll(() => rt.destroy());
  runCases('tiny limits', kernelSuite('tiled'), () => rt);
});
