// Where the project's own files are (public/ with the built-in model and texts, bench/results/).
// Code finds them from its own location, which differs by host: src/cli/ under Vitest, dist-node/
// or dist-node/chunks/ in the Node bundle (Rolldown moves modules two entries share into a chunk).
// The root is the nearest folder above that holds package.json.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function projectRoot(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(from)}`);
    dir = parent;
  }
  return dir;
}
