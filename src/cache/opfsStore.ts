// The model cache's FileStore on the Origin Private File System: one directory, model-cache/, at
// the root of this origin's private file system, a directory per stored model inside it. Writes
// go through a sync access handle where there is one (dedicated workers, where the studio's engine
// runs: no copy into a swap file), else through createWritable. Reads take a File snapshot and
// slice it, so a multi-gigabyte checkpoint is never read whole.

import { blobSource } from '../model/byteSource';
import type { FileStore } from './fileStore';

export const CACHE_DIRECTORY = 'model-cache';

/** Why the cache cannot be used in this browser: the model then opens from the network, as without it. */
export class CacheUnavailableError extends Error {
  constructor(detail: string) {
    super(`Models cannot be stored in this browser: ${detail}`);
    this.name = 'CacheUnavailableError';
  }
}

// Sync access handles are missing from TypeScript's DOM library for some targets.
interface SyncHandle {
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}
type WithSyncHandle = FileSystemFileHandle & { createSyncAccessHandle?: () => Promise<SyncHandle> };

/** Opens the store, or throws CacheUnavailableError saying why it cannot be (no OPFS, a private window). */
export async function openOpfsStore(
  storage: StorageManager | undefined = globalThis.navigator?.storage,
): Promise<FileStore> {
  if (typeof storage?.getDirectory !== 'function') {
    throw new CacheUnavailableError(
      'it offers no Origin Private File System (navigator.storage.getDirectory)',
    );
  }
  let root: FileSystemDirectoryHandle;
  try {
    root = await (await storage.getDirectory()).getDirectoryHandle(CACHE_DIRECTORY, { create: true });
  } catch (error) {
    // Firefox's private windows, for one, refuse the file system with a SecurityError.
    throw new CacheUnavailableError(`its private file system refused access (${errorText(error)})`);
  }
  return opfsStore(root);
}

export function opfsStore(root: FileSystemDirectoryHandle): FileStore {
  const folder = async (name: string, create: boolean) => {
    try {
      return await root.getDirectoryHandle(name, { create });
    } catch (error) {
      if (!create && isNotFound(error)) return null;
      throw error;
    }
  };

  return {
    async folders() {
      const names: string[] = [];
      // entries() is an async iterator of [name, handle]; TypeScript's DOM library may not list it.
      const entries = (root as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries();
      for await (const [name, handle] of entries) if (handle.kind === 'directory') names.push(name);
      return names;
    },

    async read(name, file) {
      const dir = await folder(name, false);
      if (!dir) return null;
      try {
        const blob = await (await dir.getFileHandle(file)).getFile();
        return blobSource(blob, file);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },

    async write(name, file, chunks) {
      const dir = await folder(name, true);
      const handle = (await dir?.getFileHandle(file, { create: true })) as WithSyncHandle;
      if (typeof handle.createSyncAccessHandle === 'function') {
        const sync = await handle.createSyncAccessHandle();
        try {
          sync.truncate(0);
          let at = 0;
          for await (const chunk of chunks) {
            // write() may write fewer bytes than asked when the disk fills; the rest is a quota failure.
            const written = sync.write(chunk, { at });
            if (written !== chunk.byteLength) {
              throw new DOMException(`wrote ${written} of ${chunk.byteLength} bytes`, 'QuotaExceededError');
            }
            at += written;
          }
          sync.flush();
        } finally {
          sync.close();
        }
        return;
      }
      const writable = await handle.createWritable();
      try {
        for await (const chunk of chunks) await writable.write(chunk as Uint8Array<ArrayBuffer>);
        await writable.close();
      } catch (error) {
        await writable.abort().catch(() => {});
        throw error;
      }
    },

    async removeFolder(name) {
      try {
        await root.removeEntry(name, { recursive: true });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
  };
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'NotFoundError' || name === 'TypeMismatchError';
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
