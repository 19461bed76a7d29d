import { describe, expect, it } from 'vitest';
import { CACHE_DIRECTORY, CacheUnavailableError, openOpfsStore } from './opfsStore';

// When the browser offers no private file system, or refuses it, the cache says why in words a
// person can act on (the studio then opens models from the network). The store itself runs in
// Chromium, in e2e/model-cache.spec.ts: Node has no OPFS.

describe('openOpfsStore', () => {
  it('names the missing API when the browser has none', async () => {
    await expect(openOpfsStore(undefined)).rejects.toThrow(
      new CacheUnavailableError('it offers no Origin Private File System (navigator.storage.getDirectory)'),
    );
    await expect(openOpfsStore({} as StorageManager)).rejects.toBeInstanceOf(CacheUnavailableError);
  });

  it('passes on the refusal of a private window, with its name', async () => {
    const refusing = {
      getDirectory: () =>
        Promise.reject(new DOMException('Security error when calling GetDirectory', 'SecurityError')),
    } as unknown as StorageManager;
    await expect(openOpfsStore(refusing)).rejects.toThrow(
      'Models cannot be stored in this browser: its private file system refused access (SecurityError: Security error when calling GetDirectory)',
    );
  });

  it('opens its own directory under the root, creating it', async () => {
    const asked: [string, unknown][] = [];
    const root = {
      getDirectoryHandle: async (name: string, options: unknown) => {
        asked.push([name, options]);
        return {};
      },
    };
    await openOpfsStore({ getDirectory: async () => root } as unknown as StorageManager);
    expect(asked).toEqual([[CACHE_DIRECTORY, { create: true }]]);
  });
});
