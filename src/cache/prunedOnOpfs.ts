// The studio's store of a pruning run's finished matrices on disk, in the browser's Origin Private
// File System, as `prune --pruned-on-disk` keeps them in files for the CLI (host/prunedOnDisk.ts):
// the tab then holds one block's pruned matrices instead of the model's.
//
// PrunedTensors (prune/prunedTensors.ts) is synchronous: the engine sets a block's matrices as the
// block ends, and the evaluation, the masks, generation and export read them back one at a time.
// A FileSystemSyncAccessHandle's reads and writes are synchronous too (dedicated workers have
// them, and the engine runs in one), but opening a handle is not. So a store is one file, opened
// when the store is made, holding its matrices end to end with their offsets kept in memory: a
// matrix set again at its own length is written over in place, at another length appended.
//
// Folders: pruned-matrices/<session>/<run>/<n>.f32. A session is one worker's life. It holds a Web
// Lock named after itself for as long as it lives, so a worker starting in another tab removes
// only the folders of sessions that ended (a closed tab, a crashed worker), never a live one's. A
// run's folder goes when its run is forgotten or its weights dropped, and when its job fails or is
// cancelled; what a closed tab left is removed by the next worker to start.

import type { PrunedTensors } from '../prune/prunedTensors';

export const PRUNED_DIRECTORY = 'pruned-matrices';

/** The Web Lock a live session holds (see above). */
export function sessionLockName(session: string): string {
  return `compression-studio/pruned-matrices/${session}`;
}

/** The part of FileSystemSyncAccessHandle the store uses. */
export interface SyncFile {
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  close(): void;
}

/** The part of FileSystemFileHandle the store uses (TypeScript's DOM library may lack the sync handle). */
export interface OpfsFile {
  createSyncAccessHandle?: () => Promise<SyncFile>;
}

/** The part of FileSystemDirectoryHandle the store uses. */
export interface OpfsDirectory {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectory>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFile>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterable<string>;
}

/** Web Locks, as far as sessions need them. */
export interface SessionLocks {
  /** Takes the lock for the rest of this worker's life; resolves once it is held. */
  hold(name: string): Promise<void>;
  /** Runs `body` holding the lock when nobody holds it, and says whether it ran. */
  ifFree(name: string, body: () => Promise<void>): Promise<boolean>;
}

/** Why pruned matrices cannot be kept on disk in this browser: they then stay in the tab's memory. */
export class PrunedStorageUnavailableError extends Error {
  constructor(detail: string) {
    super(`Pruned matrices cannot be kept on disk in this browser: ${detail}`);
    this.name = 'PrunedStorageUnavailableError';
  }
}

/** navigator.deviceMemory's stand-in where the browser does not report it (Firefox, Safari), in GiB. */
export const DEFAULT_DEVICE_MEMORY_GIB = 4;
/** The share of the device's memory a run may plan to hold in the tab before its pruned matrices go to disk. */
export const HOST_MEMORY_SHARE = 0.5;

/**
 * Host bytes above which a run keeps its pruned matrices on disk unasked: half the device's
 * memory. navigator.deviceMemory reports GB rounded to a power of two and capped by the browser
 * (the specification suggests 8; the tests' headless Chromium reports 16), read here as GiB.
 */
export function onDiskThresholdBytes(deviceMemoryGib: number | undefined): number {
  const gib =
    deviceMemoryGib !== undefined && deviceMemoryGib > 0 ? deviceMemoryGib : DEFAULT_DEVICE_MEMORY_GIB;
  return HOST_MEMORY_SHARE * gib * 2 ** 30;
}

/** Whether a run keeps its pruned matrices on disk: asked to, or its plan's host bytes (all in memory) are over the threshold. */
export function keepPrunedOnDisk(asked: boolean, hostBytes: number, thresholdBytes: number): boolean {
  return asked || hostBytes > thresholdBytes;
}

/** One store's matrices in one file (see above). */
export class PrunedOnOpfs implements PrunedTensors {
  /** Each matrix's byte offset and length in floats, in the order they were first set. */
  private readonly entries = new Map<string, { at: number; length: number }>();
  private end = 0;
  private closed = false;

  constructor(
    private readonly file: SyncFile,
    /** The file's path under the private file system's root, for messages. */
    readonly path: string,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  set(name: string, data: Float32Array): this {
    if (this.closed)
      throw new Error(`${this.path}: the pruned ${name} cannot be kept: the run's files were removed`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const old = this.entries.get(name);
    const at = old && old.length === data.length ? old.at : this.end;
    let written: number;
    try {
      written = this.file.write(bytes, { at });
    } catch (error) {
      throw new Error(`${this.path}: the pruned ${name} could not be written (${errorText(error)})`);
    }
    // A short write is the disk or the site's quota running out.
    if (written !== bytes.byteLength)
      throw new Error(
        `${this.path}: only ${written} of the ${bytes.byteLength} bytes of the pruned ${name} were written: the site's storage is full`,
      );
    this.end = Math.max(this.end, at + bytes.byteLength);
    this.entries.set(name, { at, length: data.length });
    return this;
  }

  get(name: string): Float32Array | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    if (this.closed)
      throw new Error(`${this.path}: the pruned ${name} is gone: the run's files were removed`);
    const bytes = new Uint8Array(4 * entry.length);
    let read: number;
    try {
      read = this.file.read(bytes, { at: entry.at });
    } catch (error) {
      throw new Error(`${this.path}: the pruned ${name} could not be read (${errorText(error)})`);
    }
    if (read !== bytes.byteLength)
      throw new Error(
        `${this.path}: the pruned ${name} was ${bytes.byteLength} bytes at byte ${entry.at}, the file now holds ${read} of them`,
      );
    return new Float32Array(bytes.buffer);
  }

  *[Symbol.iterator](): IterableIterator<[string, Float32Array]> {
    for (const name of this.entries.keys()) yield [name, this.get(name) as Float32Array];
  }

  /** Lets the file go (its handle locks it against removal); reads fail from then on, naming the matrix. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }
}

/** A run's folder and its stores: one store, or one per range of blocks and the joined one. */
export class PrunedRunFolder {
  private readonly stores: PrunedOnOpfs[] = [];
  /** Files named so far: the ranges of a run on several devices ask for their stores at once. */
  private named = 0;
  private removed = false;

  constructor(
    private readonly parent: OpfsDirectory,
    private readonly dir: OpfsDirectory,
    readonly name: string,
    readonly path: string,
  ) {}

  /** A new, empty store in this folder (a PruneJobHost.prunedTensors). */
  async store(): Promise<PrunedOnOpfs> {
    if (this.removed) throw new Error(`${this.path} was removed: its run has ended`);
    // Named before the first await, so stores asked for together get files of their own.
    const name = `${this.named++}.f32`;
    const handle = await this.dir.getFileHandle(name, { create: true });
    if (typeof handle.createSyncAccessHandle !== 'function')
      throw new PrunedStorageUnavailableError('it has no synchronous file access (createSyncAccessHandle)');
    const store = new PrunedOnOpfs(await handle.createSyncAccessHandle(), `${this.path}/${name}`);
    this.stores.push(store);
    // Removed meanwhile (the run was cancelled): the new file must not outlive it.
    if (this.removed) {
      await this.remove();
      throw new Error(`${this.path} was removed: its run has ended`);
    }
    return store;
  }

  /** Removes every store's file but the one holding the run's result (a run on several devices joins its ranges into one). */
  async keepOnly(kept: PrunedTensors): Promise<void> {
    for (const store of this.stores.filter((s) => s !== kept)) {
      store.close();
      await removeIfThere(this.dir, store.path.slice(store.path.lastIndexOf('/') + 1), false);
    }
  }

  /** Closes every store and removes the folder with everything in it. */
  async remove(): Promise<void> {
    this.removed = true;
    for (const store of this.stores) store.close();
    await removeIfThere(this.parent, this.name, true);
  }
}

/** This worker's session folder of runs' folders (see above). */
export class PrunedOpfs {
  private runs = 0;

  private constructor(
    private readonly session: OpfsDirectory,
    readonly path: string,
    /** The folders of ended sessions removed when this one opened. */
    readonly swept: string[],
  ) {}

  /**
   * Opens this session's folder under `root` (created, with its lock held first), removes the
   * folders of sessions whose lock nobody holds, and checks that a sync handle can be opened,
   * written and read there. Throws PrunedStorageUnavailableError saying why not.
   */
  static async open(root: OpfsDirectory, locks: SessionLocks, session: string): Promise<PrunedOpfs> {
    let base: OpfsDirectory;
    try {
      base = await root.getDirectoryHandle(PRUNED_DIRECTORY, { create: true });
    } catch (error) {
      throw new PrunedStorageUnavailableError(`its private file system refused access (${errorText(error)})`);
    }
    // The lock comes before the folder, so no other worker can take the new folder for a stale one.
    await locks.hold(sessionLockName(session));
    const own = await base.getDirectoryHandle(session, { create: true });
    const swept: string[] = [];
    for await (const name of base.keys()) {
      if (name === session) continue;
      const free = await locks.ifFree(sessionLockName(name), () => removeIfThere(base, name, true));
      if (free) swept.push(name);
    }
    const opfs = new PrunedOpfs(own, `${PRUNED_DIRECTORY}/${session}`, swept);
    await opfs.probe();
    return opfs;
  }

  /** A new folder for one run's stores. */
  runFolder(): Promise<PrunedRunFolder> {
    return this.folder(`run-${++this.runs}`);
  }

  private async folder(name: string): Promise<PrunedRunFolder> {
    const dir = await this.session.getDirectoryHandle(name, { create: true });
    return new PrunedRunFolder(this.session, dir, name, `${this.path}/${name}`);
  }

  /** A sync handle opened, written and read back: an API that is there but refuses says so now, not mid-run. */
  private async probe(): Promise<void> {
    const folder = await this.folder('probe');
    try {
      const store = await folder.store();
      const probe = new Float32Array([1.5, -0]);
      store.set('probe', probe);
      const back = store.get('probe');
      if (back?.[0] !== 1.5 || !Object.is(back?.[1], -0))
        throw new PrunedStorageUnavailableError(
          `a file written in it read back as ${back ? [...back] : 'nothing'}`,
        );
    } catch (error) {
      if (error instanceof PrunedStorageUnavailableError) throw error;
      throw new PrunedStorageUnavailableError(
        `a file could not be written and read there (${errorText(error)})`,
      );
    } finally {
      await folder.remove();
    }
  }
}

/** The worker's store of pruned matrices on disk, or why this browser has none. */
export type PrunedStorageSlot = { opfs: PrunedOpfs } | { unavailable: string };

/** openPrunedOpfs as a slot: the error's message where there is no store. */
export function openPrunedStorage(): Promise<PrunedStorageSlot> {
  return openPrunedOpfs().then(
    (opfs) => ({ opfs }),
    (error: unknown) => ({ unavailable: error instanceof Error ? error.message : String(error) }),
  );
}

/**
 * This browser's store for this worker's life, or PrunedStorageUnavailableError saying why there
 * is none: no private file system, no sync access handles, no Web Locks, or a refusal.
 */
export async function openPrunedOpfs(
  storage: StorageManager | undefined = globalThis.navigator?.storage,
  locks: LockManager | undefined = globalThis.navigator?.locks,
): Promise<PrunedOpfs> {
  if (typeof storage?.getDirectory !== 'function')
    throw new PrunedStorageUnavailableError(
      'it offers no Origin Private File System (navigator.storage.getDirectory)',
    );
  const fileHandle = (globalThis as { FileSystemFileHandle?: { prototype: OpfsFile } }).FileSystemFileHandle;
  if (typeof fileHandle?.prototype.createSyncAccessHandle !== 'function')
    throw new PrunedStorageUnavailableError(
      'it has no synchronous file access for workers (FileSystemSyncAccessHandle)',
    );
  if (typeof locks?.request !== 'function')
    throw new PrunedStorageUnavailableError(
      'it has no Web Locks (navigator.locks), which keep one tab from removing the files of another',
    );
  let root: OpfsDirectory;
  try {
    root = (await storage.getDirectory()) as unknown as OpfsDirectory;
  } catch (error) {
    throw new PrunedStorageUnavailableError(`its private file system refused access (${errorText(error)})`);
  }
  return PrunedOpfs.open(root, webLocks(locks), crypto.randomUUID());
}

/** SessionLocks over the browser's LockManager. */
export function webLocks(locks: LockManager): SessionLocks {
  return {
    hold: (name) =>
      new Promise<void>((held) => {
        // The callback's promise never settles: the lock is let go when the worker ends.
        void locks.request(name, () => {
          held();
          return new Promise<never>(() => {});
        });
      }),
    ifFree: async (name, body) =>
      locks.request(name, { ifAvailable: true }, async (lock) => {
        if (!lock) return false;
        await body();
        return true;
      }),
  };
}

async function removeIfThere(dir: OpfsDirectory, name: string, recursive: boolean): Promise<void> {
  try {
    await dir.removeEntry(name, { recursive });
  } catch (error) {
    if ((error as { name?: unknown } | null)?.name !== 'NotFoundError') throw error;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
