// The build's service worker, through vite-plugin-pwa (Workbox's Vite plugin; 2.0.0 accepts Vite
// 8). Its injectManifest strategy builds our small sw.ts and writes into it the precache list of
// this build: every file of the output folder, narrowed by precacheListOfSite (precacheList.ts
// stays the one list of what is stored offline), each with Workbox's revision, an MD5 of its bytes
// (assets/ names carry Vite's hash already, so they need none). Any change to a stored file thus
// changes sw.js, and the browser installs the new worker beside the open tabs, where the studio
// offers it (src/ui/shell/appUpdate.ts). The app registers the worker itself (injectRegister:
// false) and has no web app manifest (manifest: false). Imports name their .ts files because
// Vite's native config loader runs this file in Node as it is.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { precacheListOfSite, SERVICE_WORKER_FILE } from './precacheList.ts';

/** Workbox skips larger files with only a warning; precacheListOfSite turns that into an error. */
const LARGEST_FILE_BYTES = 8 * 2 ** 20;

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

export function offlinePlugin(): Plugin[] {
  let publicDir = '';
  const readPublicDir: Plugin = {
    name: 'compression-studio:public-dir',
    apply: 'build',
    configResolved(config) {
      publicDir = config.publicDir;
    },
  };
  return [
    readPublicDir,
    ...VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src/offline',
      // sw.ts → sw.js at the site's root, so that its scope is the whole site.
      filename: SERVICE_WORKER_FILE.replace(/\.js$/, '.ts'),
      registerType: 'prompt',
      injectRegister: false,
      manifest: false,
      injectManifest: {
        // A classic worker: module service workers are not yet in every browser the studio serves.
        rollupFormat: 'iife',
        globPatterns: ['**/*'],
        maximumFileSizeToCacheInBytes: LARGEST_FILE_BYTES,
        manifestTransforms: [
          (entries) => {
            const keep = new Set(
              precacheListOfSite(
                entries.map((e) => e.url),
                publicDir ? filesUnder(publicDir) : [],
              ),
            );
            return { manifest: entries.filter((e) => keep.has(e.url)), warnings: [] };
          },
        ],
      },
    }),
  ];
}
