// The storage the model cache writes to, as a small interface: folders of whole files. The studio's
// worker backs it with the Origin Private File System (opfsStore.ts); the tests with memory
// (storeTesting.ts), so every path of the cache logic runs without a browser.

import type { ByteSource } from '../model/byteSource';

export interface FileStore {
  /** The names of the folders present. */
  folders(): Promise<string[]>;
  /** A file for reading in ranges, or null when the folder or the file is not there. */
  read(folder: string, name: string): Promise<ByteSource | null>;
  /**
   * Writes a file whole from its chunks, creating the folder and replacing any file of that name.
   * Rejects with a DOMException named 'QuotaExceededError' when storage is full; an error thrown
   * by the chunks is passed on as it is.
   */
  write(folder: string, name: string, chunks: AsyncIterable<Uint8Array>): Promise<void>;
  /** Removes a folder and everything in it; a folder that is not there is no error. */
  removeFolder(folder: string): Promise<void>;
}

/** Browsers name a full store 'QuotaExceededError' (a DOMException; older Firefox: NS_ERROR_DOM_QUOTA_REACHED). */
export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}
