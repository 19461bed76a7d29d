// A FileStore in memory for the cache's tests: a capacity in bytes stands in for the browser's
// quota, and the files are open to the test, which damages them as a failing disk would.

import { bytesSource } from '../model/byteSource';
import type { FileStore } from './fileStore';

export class MemoryStore implements FileStore {
  readonly data = new Map<string, Map<string, Uint8Array>>();
  /** Every write, as 'folder/name', in order. */
  readonly writes: string[] = [];

  constructor(readonly capacity = Number.POSITIVE_INFINITY) {}

  get used(): number {
    let bytes = 0;
    for (const files of this.data.values()) for (const file of files.values()) bytes += file.byteLength;
    return bytes;
  }

  async folders(): Promise<string[]> {
    return [...this.data.keys()];
  }

  async read(folder: string, name: string) {
    const file = this.data.get(folder)?.get(name);
    return file ? bytesSource(name, file) : null;
  }

  async write(folder: string, name: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.writes.push(`${folder}/${name}`);
    const files = this.data.get(folder) ?? new Map<string, Uint8Array>();
    this.data.set(folder, files);
    files.delete(name);
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of chunks) {
      // As a browser does, the bytes that fit are written before the quota error.
      if (this.used + size + chunk.byteLength > this.capacity) {
        files.set(name, join(parts, size));
        throw new DOMException(`the store holds at most ${this.capacity} bytes`, 'QuotaExceededError');
      }
      parts.push(chunk.slice());
      size += chunk.byteLength;
    }
    files.set(name, join(parts, size));
  }

  async removeFolder(folder: string): Promise<void> {
    this.data.delete(folder);
  }
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
