import { describe, expect, it } from 'vitest';
import { freshSeed, Random } from '../kernels/random';
import { MemoryDirectory, MemoryFile, MemoryLocks } from './opfsTesting';
import {
  keepPrunedOnDisk,
  onDiskThresholdBytes,
  openPrunedOpfs,
  PRUNED_DIRECTORY,
  PrunedOpfs,
  PrunedStorageUnavailableError,
  sessionLockName,
} from './prunedOnOpfs';

// The store's logic on an in-memory private file system (opfsTesting.ts: locked open files, missing
// entries, closed handles as the browser has them); e2e/prune-on-disk.spec.ts runs it on Chromium's.

async function session(name = 'live') {
  const root = new MemoryDirectory();
  const locks = new MemoryLocks();
  const opfs = await PrunedOpfs.open(root, locks, name);
  return { root, locks, opfs };
}

describe('pruned matrices in the private file system', () => {
  it('gives back what was set, bit for bit (NaN payloads, −0), in order; a folder goes with remove()', async () => {
    const { root, opfs } = await session();
    const folder = await opfs.runFolder();
    const store = await folder.store();
    const seed = freshSeed();
    const random = new Random(seed);
    // Odd lengths, a NaN with a payload and a negative zero: the bytes travel, not the values.
    const a = random.uniform(37);
    new Uint32Array(a.buffer)[3] = 0x7fa0_0001;
    a[4] = -0;
    const b = random.uniform(1);
    store.set('layers.0.q.weight', a);
    store.set('layers.0.k.weight', b);
    const file = root.at(`${PRUNED_DIRECTORY}/live/run-1/0.f32`);
    expect(file).toBeInstanceOf(MemoryFile);
    expect((file as MemoryFile).bytes.byteLength).toBe(4 * 38);
    // Set again at its own length: written over in place, the file no longer.
    const a2 = random.uniform(37);
    store.set('layers.0.q.weight', a2);
    expect((file as MemoryFile).bytes.byteLength).toBe(4 * 38);
    // At another length: appended, and the old bytes no longer read.
    const b2 = random.uniform(5);
    store.set('layers.0.k.weight', b2);
    expect((file as MemoryFile).bytes.byteLength).toBe(4 * 43);
    store.set('layers.0.q.weight', a);

    expect(store.size).toBe(2);
    expect([...store.keys()]).toEqual(['layers.0.q.weight', 'layers.0.k.weight']);
    const got = store.get('layers.0.q.weight') as Float32Array;
    expect(new Uint32Array(got.buffer), `seed ${seed}`).toEqual(new Uint32Array(a.buffer));
    expect(Object.is(got[4], -0)).toBe(true);
    expect(store.get('layers.0.k.weight')).toEqual(b2);
    expect(store.has('layers.1.q.weight')).toBe(false);
    expect(store.get('layers.1.q.weight')).toBeUndefined();
    expect([...store].map(([name, data]) => [name, data.length])).toEqual([
      ['layers.0.q.weight', 37],
      ['layers.0.k.weight', 5],
    ]);

    // The open handle locks the file: remove() lets it go first, then the folder is gone.
    expect((file as MemoryFile).locked).toBe(true);
    await folder.remove();
    expect(root.at(`${PRUNED_DIRECTORY}/live/run-1`)).toBeUndefined();
    expect(() => store.get('layers.0.k.weight')).toThrow(
      "pruned-matrices/live/run-1/0.f32: the pruned layers.0.k.weight is gone: the run's files were removed",
    );
    await expect(folder.store()).rejects.toThrow('pruned-matrices/live/run-1 was removed');
  });

  it('names the tensor when its file no longer holds what was written, or cannot be read', async () => {
    const { root, opfs } = await session();
    const folder = await opfs.runFolder();
    const store = await folder.store();
    store.set('layers.1.up.weight', new Float32Array(4).fill(1));
    store.set('layers.2.down.weight', new Float32Array(8).fill(2));
    (root.at(`${PRUNED_DIRECTORY}/live/run-1/0.f32`) as MemoryFile).truncate(28);
    expect(store.get('layers.1.up.weight')).toEqual(new Float32Array(4).fill(1));
    expect(() => store.get('layers.2.down.weight')).toThrow(
      'pruned-matrices/live/run-1/0.f32: the pruned layers.2.down.weight was 32 bytes at byte 16, the file now holds 12 of them',
    );
    expect(() => [...store]).toThrow(/layers\.2\.down\.weight was 32 bytes/);
    await folder.remove();
  });

  it('keeps only the joined store of a run on several devices', async () => {
    const { root, opfs } = await session();
    const folder = await opfs.runFolder();
    // The ranges ask for their stores at once.
    const ranges = await Promise.all([folder.store(), folder.store()]);
    const joined = await folder.store();
    ranges[0]?.set('layers.0.q.weight', new Float32Array([1]));
    ranges[1]?.set('layers.1.q.weight', new Float32Array([2]));
    for (const range of ranges) for (const [name, data] of range) joined.set(name, data);
    await folder.keepOnly(joined);
    const dir = root.at(`${PRUNED_DIRECTORY}/live/run-1`) as MemoryDirectory;
    expect([...dir.entries.keys()]).toEqual(['2.f32']);
    expect(joined.get('layers.1.q.weight')).toEqual(new Float32Array([2]));
    expect(() => ranges[0]?.get('layers.0.q.weight')).toThrow(
      /0\.f32: the pruned layers\.0\.q\.weight is gone/,
    );
    await folder.remove();
    expect([...(root.at(`${PRUNED_DIRECTORY}/live`) as MemoryDirectory).entries.keys()]).toEqual([]);
  });

  it('removes the folders of ended sessions when a session opens, never a live one’s', async () => {
    const root = new MemoryDirectory();
    const locks = new MemoryLocks();
    const other = await PrunedOpfs.open(root, locks, 'other-tab');
    const kept = await (await other.runFolder()).store();
    kept.set('layers.0.q.weight', new Float32Array([3]));
    // A tab that was closed mid-run: its folder and file are there, its lock is not.
    const closed = await (await root.getDirectoryHandle(PRUNED_DIRECTORY)).getDirectoryHandle('closed-tab', {
      create: true,
    });
    await (await closed.getDirectoryHandle('run-1', { create: true })).getFileHandle('0.f32', {
      create: true,
    });

    const opened = await PrunedOpfs.open(root, locks, 'new-tab');
    expect(opened.swept).toEqual(['closed-tab']);
    expect(opened.path).toBe('pruned-matrices/new-tab');
    expect([...(root.at(PRUNED_DIRECTORY) as MemoryDirectory).entries.keys()].sort()).toEqual([
      'new-tab',
      'other-tab',
    ]);
    expect(kept.get('layers.0.q.weight')).toEqual(new Float32Array([3]));
    expect(locks.held).toEqual(new Set([sessionLockName('other-tab'), sessionLockName('new-tab')]));
    // The open's own check (a file written and read back) leaves nothing behind.
    expect((root.at(`${PRUNED_DIRECTORY}/new-tab`) as MemoryDirectory).entries.size).toBe(0);
  });

  it('says why the disk cannot be had, and the setting stays off', async () => {
    await expect(openPrunedOpfs(undefined, undefined)).rejects.toThrow(
      new PrunedStorageUnavailableError(
        'it offers no Origin Private File System (navigator.storage.getDirectory)',
      ),
    );
    // Node has no FileSystemFileHandle, as a browser without sync access handles.
    const storage = { getDirectory: async () => new MemoryDirectory() } as unknown as StorageManager;
    await expect(openPrunedOpfs(storage, undefined)).rejects.toThrow(
      'Pruned matrices cannot be kept on disk in this browser: it has no synchronous file access for workers (FileSystemSyncAccessHandle)',
    );
    // A file system whose files open without a sync handle: found by the open's own check.
    const root = new MemoryDirectory(false);
    await expect(PrunedOpfs.open(root, new MemoryLocks(), 's')).rejects.toThrow(
      'it has no synchronous file access (createSyncAccessHandle)',
    );
    const refusing = new MemoryDirectory();
    refusing.getDirectoryHandle = () =>
      Promise.reject(Object.assign(new Error('Security error'), { name: 'SecurityError' }));
    await expect(PrunedOpfs.open(refusing, new MemoryLocks(), 's')).rejects.toThrow(
      'its private file system refused access (SecurityError: Security error)',
    );
  });

  it('goes to disk when asked, or when the plan holds more than half the device’s memory in the tab', () => {
    expect(onDiskThresholdBytes(8)).toBe(4 * 2 ** 30);
    expect(onDiskThresholdBytes(0.5)).toBe(2 ** 28);
    // Without navigator.deviceMemory (Firefox, Safari): 4 GiB assumed.
    expect(onDiskThresholdBytes(undefined)).toBe(2 * 2 ** 30);
    expect(keepPrunedOnDisk(false, 2 * 2 ** 30, onDiskThresholdBytes(undefined))).toBe(false);
    expect(keepPrunedOnDisk(false, 2 * 2 ** 30 + 1, onDiskThresholdBytes(undefined))).toBe(true);
    expect(keepPrunedOnDisk(true, 1, onDiskThresholdBytes(8))).toBe(true);
  });
});
