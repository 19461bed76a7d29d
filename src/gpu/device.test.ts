import { describe, expect, it } from 'vitest';
import { acquireGpu, NEGOTIATED_LIMITS } from './device';
import { GpuUnavailableError } from './errors';

// A stand-in adapter whose device request fails until the requested buffer limits are small
// enough, as a real implementation does when it cannot back what it advertises.
function fakeGpu(acceptBufferBytes: number | null, adapterLimit = 2 ** 30): GPU {
  const limits = Object.fromEntries(NEGOTIATED_LIMITS.map((name) => [name, adapterLimit])) as Record<
    string,
    number
  >;
  const adapter = {
    features: new Set(['timestamp-query']),
    limits,
    info: { vendor: 'test', architecture: 'fake', device: '', description: 'fake adapter' },
    async requestDevice(descriptor: GPUDeviceDescriptor) {
      const asked = (descriptor.requiredLimits?.maxBufferSize as number | undefined) ?? 256 * 2 ** 20;
      if (acceptBufferBytes !== null && asked > acceptBufferBytes)
        throw new Error(`cannot back ${asked} bytes`);
      const granted = {
        ...limits,
        ...descriptor.requiredLimits,
        minStorageBufferOffsetAlignment: 256,
        minUniformBufferOffsetAlignment: 256,
      };
      return { limits: granted, features: new Set(descriptor.requiredFeatures) } as unknown as GPUDevice;
    },
  };
  return { requestAdapter: async () => adapter } as unknown as GPU;
}

describe('acquireGpu', () => {
  it('explains a missing WebGPU', async () => {
    const error = await acquireGpu(undefined).catch((e) => e);
    expect(error).toBeInstanceOf(GpuUnavailableError);
    expect(error.advice).toMatch(/WebGPU|chrome/i);
  });

  it('explains a missing adapter', async () => {
    const gpu = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireGpu(gpu)).rejects.toThrow(/no GPU adapter/);
  });

  it('steps down the ladder until a device is granted and records why', async () => {
    const { capability } = await acquireGpu(fakeGpu(2 ** 28));
    expect(capability.ladderStep).toBe(2);
    expect(capability.limits.maxBufferSize).toBe(2 ** 28);
    expect(capability.limits.maxStorageBufferBindingSize).toBe(2 ** 28);
    expect(capability.ladderFailures).toHaveLength(2);
    expect(capability.ladderFailures[0]).toMatch(/cannot back/);
    expect(capability.features).toEqual({ 'shader-f16': false, subgroups: false, 'timestamp-query': true });
  });

  it('fails with every rung listed when no device is granted', async () => {
    const error = await acquireGpu(fakeGpu(0)).catch((e) => e);
    expect(error).toBeInstanceOf(GpuUnavailableError);
    expect(error.message.split('\n')).toHaveLength(5);
  });

  it('caps the planning limits on request, never above what was granted', async () => {
    const { capability } = await acquireGpu(fakeGpu(null, 4096), {
      capLimits: { maxStorageBufferBindingSize: 2048, maxComputeWorkgroupsPerDimension: 1e9 },
    });
    expect(capability.limits.maxStorageBufferBindingSize).toBe(2048);
    expect(capability.limits.maxComputeWorkgroupsPerDimension).toBe(4096);
  });
});
