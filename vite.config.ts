import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';
import { offlinePlugin } from './src/offline/offlinePlugin.ts';

// Dawn finds Chromium's SwiftShader Vulkan driver through VK_ICD_FILENAMES. It must be set in the
// main process: worker threads get a copy of process.env that the Vulkan loader never reads.
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp';

// The test files that need a process of their own: vi.mock and vi.hoisted replace modules for the
// whole file, vi.stubEnv and fake timers change the process, and kernelDeclarations reads the
// process's registry of declared kernels, where other files' test kernels would be too.
const ISOLATED = [
  'src/kernelDeclarations.test.ts',
  'src/cli/pruneResume.test.ts',
  'src/cli/trainOom.test.ts',
  'src/cli/evalResume.test.ts',
  'src/cli/prunedOnDisk.test.ts',
  'src/cli/trainResume.test.ts',
  'src/kernels/random.test.ts',
  'src/worker/eventBatch.test.ts',
  'src/model/perplexity.test.ts',
];

export default defineConfig({
  // Relative, so the built site works from any folder of any static host.
  base: './',
  plugins: [react(), offlinePlugin()],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  test: {
    // Two forks, each with its own Dawn device: most tests are small dispatches bound by one core's
    // JavaScript and Dawn work rather than by SwiftShader's threads. Measured on this 2-core machine
    // (2026-12-03, src/model + src/kernels, 294 tests): 115 s in one fork, 93 s in two.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Files run one after another in the same two processes rather than each in a new one, which
    // imported the engine, loaded Dawn and SwiftShader and compiled its kernels anew. The files that
    // mock modules, stub the environment or fake the clock still get a process each, as every file
    // did before. Measured on this machine (docs/testing.md, "Test time, 2026-12-03 evening"): 30
    // kernel and backward test files, 87 s → 37 s at load 7.5.
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['src/**/*.test.ts', 'bench/**/*.test.ts'],
          exclude: ISOLATED,
          isolate: false,
        },
      },
      {
        extends: true,
        test: { name: 'isolated', include: ISOLATED },
      },
    ],
  },
});
