import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { folderKey, MANIFEST, ModelCache, type PendingFile } from './modelCache';
import { MemoryStore } from './storeTesting';

// The cache's logic on a store in memory: what is stored, what a later lookup returns, and every
// way a stored copy can go wrong (a damaged file or manifest, a full store, a broken download).

const URL_A = 'https://huggingface.co/test-org/tiny/resolve/main/';
const URL_B = 'https://example.test/models/other/';

/** Bytes that differ from file to file, so a mix-up between files would show. */
function bytes(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed * 7) & 255);
}

const FILES = {
  'config.json': bytes(300, 1),
  'model.safetensors': bytes(5000, 2),
  'tok512.bin': bytes(700, 3),
};

/** The files, each served in chunks of 1 KiB as a download arrives; pulls counts the downloads started. */
function pending(files: Record<string, Uint8Array> = FILES) {
  const pulls: string[] = [];
  const list: PendingFile[] = Object.entries(files).map(([name, data]) => ({
    name,
    chunks: async function* () {
      pulls.push(name);
      for (let at = 0; at < data.length; at += 1024) yield data.slice(at, at + 1024);
    },
  }));
  return { list, pulls };
}

async function contents(source: { size: number; read(o: number, l: number): Promise<ArrayBuffer> }) {
  return new Uint8Array(await source.read(0, source.size));
}

describe('ModelCache', () => {
  it('misses an unknown folder, stores it, then hits with the same bytes and names', async () => {
    const store = new MemoryStore();
    const cache = new ModelCache(store);
    expect(await cache.lookup(URL_A)).toEqual({ kind: 'miss', dropped: null });

    const saved = await cache.save(URL_A, pending().list, new Date('2026-12-01T10:00:00Z'));
    expect(saved.kind).toBe('stored');
    const hit = await cache.lookup(URL_A);
    if (hit.kind !== 'hit') throw new Error(`expected a hit, got ${JSON.stringify(hit)}`);
    expect(hit.files.map((f) => f.name)).toEqual(Object.keys(FILES).map((n) => URL_A + n));
    for (const [i, data] of Object.values(FILES).entries()) {
      expect(await contents(hit.files[i] as (typeof hit.files)[number])).toEqual(data);
    }
    expect(hit.manifest.files.map((f) => [f.name, f.size])).toEqual([
      ['config.json', 300],
      ['model.safetensors', 5000],
      ['tok512.bin', 700],
    ]);
    // The sha256 of 300 bytes recorded is the one of those bytes (checked against Web Crypto).
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', FILES['config.json'].slice()));
    expect(hit.manifest.files[0]?.sha256).toBe(Buffer.from(digest).toString('hex'));
    // A range read of a hit reads the stored bytes.
    expect(new Uint8Array(await (hit.files[1] as (typeof hit.files)[number]).read(1000, 10))).toEqual(
      FILES['model.safetensors'].slice(1000, 1010),
    );
  });

  it('keeps folders apart: another URL misses, and its own files are its own', async () => {
    const cache = new ModelCache(new MemoryStore());
    await cache.save(URL_A, pending().list);
    expect((await cache.lookup(URL_B)).kind).toBe('miss');
    await cache.save(URL_B, pending({ 'config.json': bytes(10, 9), 'model.safetensors': bytes(20, 8) }).list);
    const b = await cache.lookup(URL_B);
    expect(b.kind === 'hit' && b.files.length).toBe(2);
    expect((await cache.lookup(URL_A)).kind).toBe('hit');
  });

  it('drops a copy whose bytes changed, says which file, and stores it again on the next save', async () => {
    const store = new MemoryStore();
    const cache = new ModelCache(store);
    await cache.save(URL_A, pending().list);
    // One flipped byte, the size unchanged: only the hash can tell.
    const weights = store.data.get(folderKey(URL_A))?.get('model.safetensors') as Uint8Array;
    weights[4321] = (weights[4321] as number) ^ 0xff;

    const miss = await cache.lookup(URL_A);
    expect(miss).toEqual({
      kind: 'miss',
      dropped: 'The stored copy was dropped: model.safetensors no longer matches its sha256.',
    });
    expect(store.data.has(folderKey(URL_A))).toBe(false);

    const again = pending();
    expect((await cache.save(URL_A, again.list)).kind).toBe('stored');
    expect(again.pulls).toEqual(Object.keys(FILES));
    const hit = await cache.lookup(URL_A);
    expect(hit.kind === 'hit' && (await contents(hit.files[1] as never))).toEqual(FILES['model.safetensors']);
  });

  it('drops a copy with a missing or truncated file', async () => {
    const store = new MemoryStore();
    const cache = new ModelCache(store);
    await cache.save(URL_A, pending().list);
    store.data.get(folderKey(URL_A))?.delete('tok512.bin');
    expect(await cache.lookup(URL_A)).toEqual({
      kind: 'miss',
      dropped: 'The stored copy was dropped: tok512.bin is missing.',
    });
    await cache.save(URL_A, pending().list);
    store.data.get(folderKey(URL_A))?.set('config.json', FILES['config.json'].slice(0, 100));
    expect(await cache.lookup(URL_A)).toEqual({
      kind: 'miss',
      dropped: 'The stored copy was dropped: config.json holds 100 bytes instead of 300.',
    });
  });

  it('drops an entry whose manifest is damaged, with the reason, in lookup and in list', async () => {
    const store = new MemoryStore();
    const cache = new ModelCache(store);
    const damage = async (url: string, text: string) => {
      await cache.save(url, pending().list);
      store.data.get(folderKey(url))?.set(MANIFEST, new TextEncoder().encode(text));
    };

    await damage(URL_A, '{"format": "compression-studio/model-cache", "vers');
    const miss = await cache.lookup(URL_A);
    expect(miss.kind).toBe('miss');
    expect(miss.kind === 'miss' && miss.dropped).toMatch(
      /^The stored copy was dropped: its manifest is damaged \(not JSON: .+\)\.$/,
    );
    expect(store.data.has(folderKey(URL_A))).toBe(false);

    // Valid JSON, but a file's hash is not a hash.
    const good = await cache.save(URL_A, pending().list);
    if (good.kind !== 'stored') throw new Error('not stored');
    const files = good.manifest.files.map((f, i) => (i === 1 ? { ...f, sha256: 'abc' } : f));
    store.data
      .get(folderKey(URL_A))
      ?.set(MANIFEST, new TextEncoder().encode(JSON.stringify({ ...good.manifest, files })));
    expect(await cache.lookup(URL_A)).toEqual({
      kind: 'miss',
      dropped: 'The stored copy was dropped: its manifest is damaged (files[1].sha256 is not a sha256).',
    });

    await damage(URL_B, '[]');
    await cache.save(URL_A, pending().list);
    const listed = await cache.list();
    expect(listed.models.map((m) => m.url)).toEqual([URL_A]);
    expect(listed.problems).toEqual([
      `A stored model (folder ${folderKey(URL_B)}) was removed: its manifest is damaged (not a JSON object).`,
    ]);
    expect(store.data.has(folderKey(URL_B))).toBe(false);
  });

  it('removes what a full store took, and reports the quota, so the model opens uncached', async () => {
    // Room for the config and part of the weights only.
    const store = new MemoryStore(2000);
    const cache = new ModelCache(store);
    const saved = await cache.save(URL_A, pending().list);
    expect(saved).toEqual({
      kind: 'failed',
      reason: expect.stringMatching(
        /^this site's storage quota is full \(.*2000 bytes.*\); delete stored models to make room$/,
      ),
    });
    expect(store.data.size).toBe(0);
    expect(store.used).toBe(0);
    expect(await cache.lookup(URL_A)).toEqual({ kind: 'miss', dropped: null });
  });

  it('passes on a download that breaks off, leaving nothing stored', async () => {
    const store = new MemoryStore();
    const cache = new ModelCache(store);
    const broken: PendingFile[] = [
      ...pending({ 'config.json': FILES['config.json'] }).list,
      {
        name: 'model.safetensors',
        chunks: async function* () {
          yield FILES['model.safetensors'].slice(0, 1024);
          throw new TypeError('network error');
        },
      },
    ];
    await expect(cache.save(URL_A, broken)).rejects.toThrow('network error');
    expect(store.data.size).toBe(0);
  });

  it('lists models newest first with their sizes, deletes one, then all', async () => {
    const store = new MemoryStore();
    const cache = new ModelCache(store);
    await cache.save(URL_A, pending().list, new Date('2026-12-01T10:00:00Z'));
    await cache.save(
      URL_B,
      pending({ 'config.json': bytes(10, 1), 'model.safetensors': bytes(90, 2) }).list,
      new Date('2026-12-02T10:00:00Z'),
    );
    // An unfinished download (no manifest) is not a model: listing removes it quietly.
    await store.write(
      '0123456789abcdef0123456789abcdef',
      'model.safetensors',
      (async function* () {
        yield bytes(10, 5);
      })(),
    );

    const listed = await cache.list();
    expect(listed.models.map((m) => [m.url, m.bytes, m.files.length])).toEqual([
      [URL_B, 100, 2],
      [URL_A, 6000, 3],
    ]);
    expect(listed.problems).toEqual([]);
    expect(store.data.size).toBe(2);

    expect(await cache.remove(URL_B)).toBe(true);
    expect(await cache.remove(URL_B)).toBe(false);
    expect((await cache.list()).models.map((m) => m.url)).toEqual([URL_A]);
    expect((await cache.lookup(URL_B)).kind).toBe('miss');

    await cache.save(URL_B, pending().list);
    await cache.clear();
    expect((await cache.list()).models).toEqual([]);
    expect(store.used).toBe(0);
  });

  it('refuses a file name that would leave the folder or overwrite the manifest', async () => {
    const cache = new ModelCache(new MemoryStore());
    const bad = pending({ [MANIFEST]: bytes(3, 1) }).list;
    await expect(cache.save(URL_A, bad)).rejects.toThrow(
      '"manifest.json" cannot be stored as a file of a model folder',
    );
    await expect(cache.save(URL_A, pending({ '../x': bytes(3, 1) }).list)).rejects.toThrow(
      '"../x" cannot be stored',
    );
  });
});

describe('ModelCache on damaged manifests', () => {
  it('drops any manifest that is not a valid one for its folder, with a reason, and never throws', async () => {
    // Mutations of a real manifest (every field replaced by JSON of any shape) and raw bytes.
    const store = new MemoryStore();
    const cache = new ModelCache(store);
    const saved = await cache.save(URL_A, pending().list);
    if (saved.kind !== 'stored') throw new Error('not stored');
    const good = saved.manifest as unknown as Record<string, unknown>;
    const field = fc.constantFrom('format', 'version', 'url', 'storedAt', 'files');
    const mutated = fc
      .tuple(field, fc.jsonValue())
      .filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(good[key]))
      .map(([key, value]) => new TextEncoder().encode(JSON.stringify({ ...good, [key]: value })));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, fc.uint8Array({ maxLength: 200 })), async (manifest) => {
        await cache.save(URL_A, pending().list);
        store.data.get(folderKey(URL_A))?.set(MANIFEST, manifest);
        const found = await cache.lookup(URL_A);
        expect(found.kind).toBe('miss');
        expect(found.kind === 'miss' && found.dropped).toMatch(
          /^The stored copy was dropped: its manifest is damaged \(.+\)\.$/,
        );
        expect(store.data.has(folderKey(URL_A))).toBe(false);
      }),
      { numRuns: 200, seed: 16 },
    );
  });
});
