// An Origin Private File System in memory for Node, where there is none, with the rules of the
// browser's that the pruned-matrix store depends on: a file with an open sync access handle cannot
// be opened again or removed (Chromium locks it), a folder with entries goes only with
// `recursive`, a missing entry is a NotFoundError, and a closed handle refuses reads and writes.
// And Web Locks as a set of held names. The store's own logic runs on these in
// prunedOnOpfs.test.ts and pruneJob.test.ts; the real ones in e2e/prune-on-disk.spec.ts.

import type { OpfsDirectory, OpfsFile, SessionLocks, SyncFile } from './prunedOnOpfs';

const domError = (name: string, message: string) => Object.assign(new Error(message), { name });

export class MemoryFile {
  bytes = new Uint8Array(0);
  locked = false;

  /** Cuts the file to `length` bytes, as a browser's storage cleanup or a crash might. */
  truncate(length: number): void {
    this.bytes = this.bytes.slice(0, length);
  }
}

export class MemoryDirectory implements OpfsDirectory {
  readonly entries = new Map<string, MemoryDirectory | MemoryFile>();

  /** Without sync handles: files open as in a window rather than a dedicated worker. */
  constructor(readonly syncHandles = true) {}

  async getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<MemoryDirectory> {
    let entry = this.entries.get(name);
    if (!entry) {
      if (!options?.create) throw domError('NotFoundError', `no folder ${name}`);
      entry = new MemoryDirectory(this.syncHandles);
      this.entries.set(name, entry);
    }
    if (!(entry instanceof MemoryDirectory)) throw domError('TypeMismatchError', `${name} is a file`);
    return entry;
  }

  async getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFile> {
    let entry = this.entries.get(name);
    if (!entry) {
      if (!options?.create) throw domError('NotFoundError', `no file ${name}`);
      entry = new MemoryFile();
      this.entries.set(name, entry);
    }
    if (!(entry instanceof MemoryFile)) throw domError('TypeMismatchError', `${name} is a folder`);
    const file = entry;
    if (!this.syncHandles) return {};
    return {
      createSyncAccessHandle: async () => {
        if (file.locked) throw domError('NoModificationAllowedError', `${name} is open elsewhere`);
        file.locked = true;
        return syncHandle(file);
      },
    };
  }

  async removeEntry(name: string, options?: { recursive?: boolean }): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) throw domError('NotFoundError', `no entry ${name}`);
    if (entry instanceof MemoryDirectory && entry.entries.size > 0 && !options?.recursive)
      throw domError('InvalidModificationError', `${name} is not empty`);
    if (isLocked(entry)) throw domError('NoModificationAllowedError', `${name} holds an open file`);
    this.entries.delete(name);
  }

  async *keys(): AsyncIterable<string> {
    // A copy: entries may be removed while the caller iterates.
    yield* [...this.entries.keys()];
  }

  /** The entry at a slash-separated path, or undefined. */
  at(path: string): MemoryDirectory | MemoryFile | undefined {
    let entry: MemoryDirectory | MemoryFile | undefined = this;
    for (const part of path.split('/')) {
      if (!(entry instanceof MemoryDirectory)) return undefined;
      entry = entry.entries.get(part);
    }
    return entry;
  }
}

function isLocked(entry: MemoryDirectory | MemoryFile): boolean {
  return entry instanceof MemoryFile ? entry.locked : [...entry.entries.values()].some(isLocked);
}

function syncHandle(file: MemoryFile): SyncFile {
  let open = true;
  const check = () => {
    if (!open) throw domError('InvalidStateError', 'the access handle was closed');
  };
  return {
    read(buffer, { at }) {
      check();
      const part = file.bytes.subarray(at, at + buffer.byteLength);
      buffer.set(part);
      return part.byteLength;
    },
    write(buffer, { at }) {
      check();
      if (at + buffer.byteLength > file.bytes.byteLength) {
        const grown = new Uint8Array(at + buffer.byteLength);
        grown.set(file.bytes);
        file.bytes = grown;
      }
      file.bytes.set(buffer, at);
      return buffer.byteLength;
    },
    close() {
      open = false;
      file.locked = false;
    },
  };
}

/** Web Locks as a set of held names: a held lock is never let go (as a live worker's). */
export class MemoryLocks implements SessionLocks {
  readonly held = new Set<string>();

  async hold(name: string): Promise<void> {
    if (this.held.has(name)) throw new Error(`${name} is held already`);
    this.held.add(name);
  }

  async ifFree(name: string, body: () => Promise<void>): Promise<boolean> {
    if (this.held.has(name)) return false;
    this.held.add(name);
    try {
      await body();
    } finally {
      this.held.delete(name);
    }
    return true;
  }
}
