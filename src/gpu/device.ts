// Adapter and device acquisition. WebGPU hands out the spec's minimum limits unless asked for
// more, and a request for more than an implementation can actually back fails outright, so the
// engine asks for the adapter's own limits first and steps down a ladder until a device is
// granted. Every planner in the engine reads the granted limits from here, never a constant.

import { GpuUnavailableError } from './errors';

/** The limits the engine's planners depend on. */
export const NEGOTIATED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
] as const;

export type LimitName = (typeof NEGOTIATED_LIMITS)[number];
export type EngineLimits = Record<LimitName, number> & {
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
};

export const PROBED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;
export type ProbedFeature = (typeof PROBED_FEATURES)[number];

export interface CapabilityReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** Features the engine probes for, and whether the device has them. */
  features: Record<ProbedFeature, boolean>;
  /** Every feature the adapter advertises, sorted. */
  adapterFeatures: string[];
  /** What the adapter advertises for the negotiated limits. */
  adapterLimits: Record<LimitName, number>;
  /** What the device was granted (after any engine cap). */
  limits: EngineLimits;
  /** Which rung of the ladder was granted: 0 = the adapter's full limits. */
  ladderStep: number;
  ladderSteps: number;
  /** Failures of the rungs above the granted one, for the report. */
  ladderFailures: string[];
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /**
   * Lower the limits the engine plans with below what the device grants. Tests use this to force
   * the tiled code paths with a deliberately tiny binding size.
   */
  capLimits?: Partial<Record<LimitName, number>>;
}

export interface AcquiredGpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  capability: CapabilityReport;
}

/** Fractions of the adapter's buffer limits tried in turn; the last rung asks for the defaults. */
const LADDER = [1, 0.5, 0.25, 0] as const;

export async function acquireGpu(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<AcquiredGpu> {
  if (!gpu) {
    throw new GpuUnavailableError(
      'This browser does not expose WebGPU (navigator.gpu is missing).',
      'Use a recent Chrome, Edge or Safari 26+, or Firefox 141+ on Windows; on Linux start Chrome ' +
        'with --enable-unsafe-webgpu. A secure context (https or localhost) is required.',
    );
  }
  const adapter = await gpu.requestAdapter({
    powerPreference: options.powerPreference ?? 'high-performance',
  });
  if (!adapter) {
    throw new GpuUnavailableError(
      'WebGPU is present but no GPU adapter is available.',
      'Check that hardware acceleration is enabled and the GPU driver is not blocklisted; on Linux ' +
        'Chrome needs --enable-unsafe-webgpu.',
    );
  }

  const adapterLimits = Object.fromEntries(
    NEGOTIATED_LIMITS.map((name) => [name, adapter.limits[name]]),
  ) as Record<LimitName, number>;
  const features = Object.fromEntries(PROBED_FEATURES.map((f) => [f, adapter.features.has(f)])) as Record<
    ProbedFeature,
    boolean
  >;
  const requiredFeatures = PROBED_FEATURES.filter((f) => features[f]) as GPUFeatureName[];

  const failures: string[] = [];
  for (const [step, fraction] of LADDER.entries()) {
    const requiredLimits = fraction === 0 ? {} : ladderLimits(adapterLimits, fraction);
    try {
      const device = await adapter.requestDevice({
        requiredLimits,
        requiredFeatures,
        label: 'compression-studio',
      });
      const limits = grantedLimits(device, options.capLimits);
      const info = adapter.info;
      return {
        adapter,
        device,
        capability: {
          vendor: info.vendor,
          architecture: info.architecture,
          device: info.device,
          description: info.description,
          isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
          features,
          adapterFeatures: [...adapter.features].sort(),
          adapterLimits,
          limits,
          ladderStep: step,
          ladderSteps: LADDER.length,
          ladderFailures: failures,
        },
      };
    } catch (error) {
      failures.push(
        `rung ${step} (${fraction === 0 ? 'defaults' : `${fraction * 100}% of adapter buffer limits`}): ${String(error)}`,
      );
    }
  }
  throw new GpuUnavailableError(
    `The GPU adapter refused every device request:\n${failures.join('\n')}`,
    'Restart the browser; if it persists, update the GPU driver.',
  );
}

function ladderLimits(adapterLimits: Record<LimitName, number>, fraction: number): Record<string, number> {
  const limits: Record<string, number> = { ...adapterLimits };
  // Only the buffer sizes are scaled down: they are what an implementation may fail to back.
  // Binding sizes must stay multiples of 4.
  limits.maxBufferSize = Math.floor((adapterLimits.maxBufferSize * fraction) / 4) * 4;
  limits.maxStorageBufferBindingSize = Math.min(
    limits.maxBufferSize,
    Math.floor((adapterLimits.maxStorageBufferBindingSize * fraction) / 4) * 4,
  );
  return limits;
}

function grantedLimits(device: GPUDevice, cap: AcquireOptions['capLimits']): EngineLimits {
  const limits = {
    minStorageBufferOffsetAlignment: device.limits.minStorageBufferOffsetAlignment,
    minUniformBufferOffsetAlignment: device.limits.minUniformBufferOffsetAlignment,
  } as EngineLimits;
  for (const name of NEGOTIATED_LIMITS) {
    const capped = cap?.[name];
    limits[name] = capped === undefined ? device.limits[name] : Math.min(capped, device.limits[name]);
  }
  // A binding can never be larger than the buffer that holds it.
  limits.maxStorageBufferBindingSize = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return limits;
}
