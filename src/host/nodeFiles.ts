// Model and data files on disk, for the CLI: the same ByteSource the studio gets from a dropped
// File, read in ranges so that a large checkpoint is never loaded whole.

import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { SiteFiles } from '../jobs/siteFiles';
import { type ByteSource, ModelFormatError } from '../model/byteSource';

export async function fileSource(path: string): Promise<ByteSource> {
  const { size } = await stat(path);
  const source: ByteSource = {
    name: basename(path),
    size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new ModelFormatError(
          basename(path),
          `read of ${length} bytes at ${offset} is past the end (${size} bytes)`,
        );
      }
      const handle = await open(path, 'r');
      try {
        const bytes = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(bytes, done, length - done, offset + done);
          if (bytesRead === 0)
            throw new ModelFormatError(basename(path), `ended early at byte ${offset + done}`);
          done += bytesRead;
        }
        return bytes.buffer;
      } finally {
        await handle.close();
      }
    },
  };
  return source;
}

/** Every regular file of a folder (not recursive), or the one file given. */
export async function folderSources(path: string): Promise<ByteSource[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [await fileSource(path)];
  const names = (await readdir(path, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  return Promise.all(names.sort().map((name) => fileSource(join(path, name))));
}

/**
 * The site's files (the shipped texts, the built-in tokenizer) read from a folder on disk (public/),
 * as the studio's worker fetches them from where the site is served: the CLI's training presets and
 * the worker's tests read the same files the studio would.
 */
export function folderSiteFiles(root: string): SiteFiles {
  return {
    text: (path) => readFile(join(root, path), 'utf8'),
    bytes: async (path) => {
      const data = await readFile(join(root, path));
      return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    },
  };
}
