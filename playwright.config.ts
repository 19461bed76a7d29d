// End-to-end tests in the system's Chromium. On a machine without a GPU, --enable-unsafe-webgpu
// gives a SwiftShader adapter (Vulkan on the CPU), so the whole studio runs for real, only slowly;
// without the flag Chromium offers no adapter, which is how the no-WebGPU page is tested.
// See shared/notes/webgpu-on-cpu.md. Never `npx playwright install`: the system Chromium is used.

import { defineConfig } from '@playwright/test';

const PORT = 5199;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BASE_ARGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

// WGSL promises zeroed workgroup memory. By default Dawn leaves that to the Vulkan driver
// (VK_KHR_zero_initialize_workgroup_memory), and SwiftShader then takes seconds to compile each
// kernel with a large workgroup array: 25–28 s for a 64 × 64 f32 array (SparseGPT's factor,
// shaders/prune/cholesky.wgsl) on a loaded 2-core machine, against 0.7–1.4 s with this feature off,
// in which case Dawn's shader compiler zeroes the memory itself with a loop at the start of the
// kernel. The same guarantee, and the same switch the Node rig sets (src/host/nodeGpu.ts); every
// new page's worker and every device compiles its kernels anew, so the specs paid it over and over.
const ZERO_INIT = '--disable-dawn-features=use_vulkan_zero_initialize_workgroup_memory_extension';

export default defineConfig({
  testDir: 'e2e',
  // A subfolder, because Playwright empties outputDir on start and scripts/test.sh keeps Vitest's
  // report in test-results/ beside playwright.json, which scripts/summary.mjs reads.
  outputDir: 'test-results/e2e',
  // The CLI's Node bundle, built once for the specs that compare the page with the CLI (e2e/cli.ts).
  globalSetup: './e2e/buildCli.ts',
  // SwiftShader already keeps both cores busy; a second browser would only slow both down.
  workers: 1,
  fullyParallel: false,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  timeout: 6 * 60_000,
  expect: { timeout: 30_000 },
  reporter: [
    ['list'],
    ['json', { outputFile: 'test-results/playwright.json' }],
    ['html', { open: 'never', outputFolder: 'playwright-report' }],
  ],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    headless: true,
    viewport: { width: 1280, height: 900 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'webgpu',
      testMatch: [
        'kernel-check.spec.ts',
        'model-eval.spec.ts',
        'prune.spec.ts',
        'prune-on-disk.spec.ts',
        'playground.spec.ts',
        'train.spec.ts',
        'url-state.spec.ts',
        'offline.spec.ts',
        'run-history.spec.ts',
        'demo.spec.ts',
        'hostile-config.spec.ts',
        'model-cache.spec.ts',
      ],
      use: {
        launchOptions: {
          executablePath: CHROMIUM,
          args: ['--enable-unsafe-webgpu', ZERO_INIT, ...BASE_ARGS],
        },
      },
    },
    {
      name: 'no-webgpu',
      // The update offer needs no GPU, and without an adapter the studio leaves the CPU to the test.
      testMatch: ['no-webgpu.spec.ts', 'update-prompt.spec.ts'],
      use: { launchOptions: { executablePath: CHROMIUM, args: BASE_ARGS } },
    },
  ],
  webServer: {
    // The built site, as users get it, rather than the dev server: nothing recompiles or reloads
    // the page while a test runs.
    command: `npx vite build --logLevel warn && npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
