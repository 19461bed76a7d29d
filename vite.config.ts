import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';
import { offlinePlugin } from './src/offline/offlinePlugin.ts';

// Dawn finds Chromium's SwiftShader Vulkan driver through VK_ICD_FILENAMES. It must be set in the
// main process: worker threads get a copy of process.env that the Vulkan loader never reads.
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp';

export default defineConfig({
  // Relative, so the built site works from any folder of any static host.
  base: './',
  plugins: [react(), offlinePlugin()],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  test: {
    include: ['src/**/*.test.ts', 'bench/**/*.test.ts'],
    // Two forks, each with its own Dawn device: most tests are small dispatches bound by one core's
    // JavaScript and Dawn work rather than by SwiftShader's threads. Measured on this 2-core machine
    // (2026-12-03, src/model + src/kernels, 294 tests): 115 s in one fork, 93 s in two.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
