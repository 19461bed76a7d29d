// Vitest's runner for kernel-suite cases (suiteCase.ts), shared by the kernels' suite test and the
// pruning masks'. Every case draws fresh inputs; the seed is in the failure message so a failure
// can be replayed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { createTinyRuntime } from '../host/testRuntimes';
import { freshSeed } from './random';
import type { KernelCase } from './suiteCase';

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

/**
 * The cases at the device's own limits, and the 'tiled' ones under 2 KiB bindings and 3 workgroups
 * per dimension, which force every kernel through its windowed, multi-dispatch and folded-grid paths.
 */
export function describeKernelCases(what: string, cases: (size: 'check' | 'tiled') => KernelCase[]): void {
  describe(`${what} at the device limits`, () => {
    let rt: GpuRuntime;
    beforeAll(async () => {
      rt = await createNodeRuntime();
    });
    afterAll(() => rt.destroy());
    runCases('full limits', cases('check'), () => rt);
  });

  describe(`${what} under a tiny binding limit and workgroup grid`, () => {
    let rt: GpuRuntime;
    beforeAll(async () => {
      rt = await createTinyRuntime();
    });
    afterAll(() => rt.destroy());
    runCases('tiny limits', cases('tiled'), () => rt);
  });
}
