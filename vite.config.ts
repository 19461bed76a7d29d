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
    // One fork: SwiftShader already uses both cores, and parallel GPU tests only contend.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
