// Vite build for the Node side of the project: the benchmark (and later the headless CLI) import
// engine modules that load WGSL with `?raw`, which plain node/tsx cannot resolve, so they are
// bundled here as an SSR build. Output: ESM for Node 20 in dist-node/, one file per entry.
// `webgpu` (Dawn's native addon) and Node's built-ins stay external and load at run time.

import { builtinModules } from 'node:module';
import { defineConfig } from 'vite';

/** Entry name (→ dist-node/<name>.js) → source. */
const entries: Record<string, string> = {
  bench: 'bench/bench.ts',
  cli: 'src/cli/main.ts',
  // Merges the device benchmark's stages into one report (scripts/device-bench.sh run).
  'device-report': 'bench/deviceReportMain.ts',
};

const nodeBuiltins = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];

export default defineConfig({
  // This build has no HTML entry and no public assets.
  publicDir: false,
  ssr: {
    target: 'node',
    external: ['webgpu'],
  },
  build: {
    ssr: true,
    target: 'node20',
    outDir: 'dist-node',
    emptyOutDir: true,
    sourcemap: true,
    minify: false,
    copyPublicDir: false,
    reportCompressedSize: false,
    rolldownOptions: {
      input: entries,
      external: ['webgpu', /^webgpu\//, ...nodeBuiltins],
      output: {
        format: 'es',
        entryFileNames: '[name].js',
        chunkFileNames: 'chunks/[name]-[hash].js',
      },
    },
  },
});
