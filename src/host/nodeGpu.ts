// WebGPU for Node through Dawn's `webgpu` package: the host the CLI, the benchmarks and the
// Vitest rig share. On a machine without a GPU, Dawn needs a Vulkan driver it accepts; Chromium's
// SwiftShader ICD is one (see README: VK_ICD_FILENAMES), Debian's lavapipe is not.

import { create, globals } from 'webgpu';
import type { AcquireOptions } from '../gpu/device';
import { GpuUnavailableError } from '../gpu/errors';
import { GpuRuntime } from '../gpu/runtime';
import { paceDawnPolling } from './dawnPolling';

// Dawn segfaults if the object returned by create() is collected while a device is alive, so it
// is held for the life of the process.
let instance: GPU | undefined;

// WGSL promises zeroed workgroup memory. On Vulkan, Dawn by default leaves that to the driver
// (VK_KHR_zero_initialize_workgroup_memory), and SwiftShader, the CPU driver of machines without a
// GPU, then takes 8–12 s (measured on a busy two-core machine) to compile each kernel with a
// 64 × 64 workgroup array (the four of SparseGPT's factor, shaders/prune/cholesky.wgsl), and again for
// every new device: every CLI command and test runtime. With this toggle off, Dawn's shader compiler
// zeroes the memory itself with a loop at the start of the kernel (the generated SPIR-V shows it):
// the same guarantee, and those kernels compile in 0.1–0.3 s. On a real GPU the loop is a few
// stores per invocation and a barrier before the kernel's own work.
// Dawn also rounds every timestamp query down to a multiple of 65,536 ns by default (a guard for
// web pages against timing attacks). Here the timestamps are our own process's measurements, and
// at that grain a 10 µs kernel read 0 or 65.5 µs (bench/README.md, the H200 runs), so the rounding is off.
const DAWN_OPTIONS = [
  'disable-dawn-features=use_vulkan_zero_initialize_workgroup_memory_extension,timestamp_quantization',
];

export function nodeGpu(): GPU {
  if (!instance) {
    // The engine uses the WebGPU constant objects (GPUBufferUsage, GPUMapMode, ...) as globals,
    // as it does in the browser.
    Object.assign(globalThis, globals);
    instance = create(DAWN_OPTIONS);
  }
  return instance;
}

/** A GPU runtime on Node's WebGPU, failing with the setup hint when no adapter is found. */
export async function createNodeRuntime(options: AcquireOptions = {}): Promise<GpuRuntime> {
  try {
    const rt = await GpuRuntime.create(nodeGpu(), options);
    // On a CPU adapter the GPU's work needs the core Dawn's polling would spin on (dawnPolling.ts).
    if (rt.capability.isFallbackAdapter) paceDawnPolling(true);
    return rt;
  } catch (error) {
    if (error instanceof GpuUnavailableError && !process.env.VK_ICD_FILENAMES) {
      throw new GpuUnavailableError(
        error.message,
        "On a machine without a GPU, install Debian's chromium and set " +
          'VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json so Dawn can use SwiftShader.',
      );
    }
    throw error;
  }
}
