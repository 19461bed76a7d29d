// The Vite plugin that builds the service worker (serviceWorker.ts → sw.js at the site's root) and
// writes its precache list into it: the bundle's files as this build named them, and the public
// files the studio fetches. The version is a hash of every listed file's bytes, so a build that
// changes any of them installs a new cache, and an unchanged build keeps the old one. Imports name
// their .ts files because Vite's native config loader runs this file in Node as it is.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'vite';
import { precacheList, SERVICE_WORKER_FILE } from './precacheList.ts';

export function precachePlugin(): Plugin {
  let publicDir = 'public';
  return {
    name: 'compression-studio:precache',
    apply: 'build',
    // After Vite's own plugins, so that index.html and every asset are in the bundle.
    enforce: 'post',
    configResolved(config) {
      publicDir = config.publicDir;
    },
    buildStart() {
      this.emitFile({ type: 'chunk', id: 'src/offline/serviceWorker.ts', fileName: SERVICE_WORKER_FILE });
    },
    generateBundle(_options, bundle) {
      let demos: string[] = [];
      try {
        demos = readdirSync(join(publicDir, 'demos')).map((name) => `demos/${name}`);
      } catch {
        // No demos shipped.
      }
      const files = precacheList(Object.keys(bundle), demos);
      const hash = createHash('sha256');
      let bytes = 0;
      for (const file of files) {
        if (file === './') continue;
        const output = bundle[file];
        const data = output
          ? output.type === 'chunk'
            ? output.code
            : output.source
          : readFileSync(join(publicDir, file));
        bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
        hash.update(file).update(data);
      }
      const html = bundle['index.html'];
      if (html?.type === 'asset') hash.update(html.source);
      const worker = bundle[SERVICE_WORKER_FILE];
      if (worker?.type !== 'chunk') throw new Error(`precache: ${SERVICE_WORKER_FILE} was not built`);
      const precache = { version: hash.digest('hex').slice(0, 16), files };
      worker.code = `const PRECACHE = ${JSON.stringify(precache)};\n${worker.code}`;
      this.info(
        `precache: ${files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB, version ${precache.version}`,
      );
    },
  };
}
