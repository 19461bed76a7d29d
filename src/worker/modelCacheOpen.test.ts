import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { folderKey, ModelCache } from '../cache/modelCache';
import { MemoryStore } from '../cache/storeTesting';
import type { DownloadProgress } from './api';
import { inspectModel } from './modelJob';

// Opening a model by URL with the cache, as the worker does, over a fake Hugging Face host that
// serves the built-in model's files: which requests each open makes, and what it says about the
// stored copy. No GPU is needed: opening reads headers only.

const SITE = 'http://studio.test/';
const FOLDER = 'https://huggingface.co/test-org/tiny/resolve/main/';
const FILES: Record<string, Buffer> = Object.fromEntries(
  ['config.json', 'model.safetensors', 'tok512.bin'].map((name) => [
    name,
    readFileSync(new URL(`../../public/models/stories260K/${name}`, import.meta.url)),
  ]),
);

/** The hub, answering whole files and ranges; requests lists 'name' or 'name range'. */
function fakeHub() {
  const requests: string[] = [];
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const name = url.startsWith(FOLDER) ? url.slice(FOLDER.length) : url;
    const range = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('Range') ?? '');
    requests.push(range ? `${name} range` : name);
    const body = FILES[name];
    if (!body) return new Response('Entry not found', { status: 404, statusText: 'Not Found' });
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), body.length - 1);
      return new Response(new Uint8Array(body.subarray(start, end + 1)), {
        status: 206,
        headers: { 'Content-Range': `bytes ${start}-${end}/${body.length}` },
      });
    }
    return new Response(new Uint8Array(body), { headers: { 'Content-Length': String(body.length) } });
  }) as typeof fetch;
  return { fetch: fetchFn, requests };
}

const weightRequests = (requests: string[]) => requests.filter((r) => r.startsWith('model.safetensors'));

describe('opening a URL folder with the cache', () => {
  it('stores it on the first open and opens it with no request the second time', async () => {
    const cache = new ModelCache(new MemoryStore());
    const first = fakeHub();
    const progress: DownloadProgress[] = [];
    const opened = await inspectModel(
      { kind: 'url', url: 'test-org/tiny' },
      SITE,
      first.fetch,
      { cache },
      (p) => progress.push(p),
    );
    // Told of the weights' download, ending with the whole file; the small files come whole.
    expect(progress.at(-1)).toEqual({
      type: 'download',
      file: `${FOLDER}model.safetensors`,
      bytesDone: 1_045_056,
      bytesTotal: 1_045_056,
    });
    expect(opened.cache).toMatchObject({ status: 'stored', dropped: null });
    expect(opened.storedUrl).toBe(FOLDER);
    // The weights came down once, whole; the model's name is what was typed.
    expect(weightRequests(first.requests)).toEqual(['model.safetensors range', 'model.safetensors']);
    expect(opened.summary.name).toBe('test-org/tiny');

    const second = fakeHub();
    const told = progress.length;
    const again = await inspectModel({ kind: 'url', url: FOLDER }, SITE, second.fetch, { cache }, (p) =>
      progress.push(p),
    );
    expect(second.requests).toEqual([]);
    expect(progress.length).toBe(told);
    expect(again.cache?.status).toBe('hit');
    expect(again.summary).toMatchObject({ ...opened.summary, name: FOLDER });
    const tokenizer = again.tokenizerFiles[0];
    expect(tokenizer?.name).toBe(`${FOLDER}tok512.bin`);
    expect(Buffer.from(await (tokenizer as NonNullable<typeof tokenizer>).read(0, 6227))).toEqual(
      FILES['tok512.bin'],
    );
  });

  it('fetches a damaged copy again, and says the stored one was dropped', async () => {
    const store = new MemoryStore();
    const cache = new ModelCache(store);
    await inspectModel({ kind: 'url', url: FOLDER }, SITE, fakeHub().fetch, { cache });
    const weights = store.data.get(folderKey(FOLDER))?.get('model.safetensors') as Uint8Array;
    weights.fill(0x21, 100_000, 100_100);

    const hub = fakeHub();
    const opened = await inspectModel({ kind: 'url', url: FOLDER }, SITE, hub.fetch, { cache });
    expect(opened.cache).toEqual({
      status: 'stored',
      storedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      bytes: 454 + 1_045_056 + 6227,
      reason: null,
      dropped: 'The stored copy was dropped: model.safetensors no longer matches its sha256.',
    });
    expect(weightRequests(hub.requests)).toContain('model.safetensors');
    // Compared as Buffers: a deep equality of a megabyte array element by element takes seconds.
    const stored = store.data.get(folderKey(FOLDER))?.get('model.safetensors') as Uint8Array;
    expect(Buffer.from(stored).equals(FILES['model.safetensors'] as Buffer)).toBe(true);
  });

  it('opens from the network in ranges when the store is full, saying it was not stored', async () => {
    const store = new MemoryStore(100_000);
    const hub = fakeHub();
    const opened = await inspectModel({ kind: 'url', url: FOLDER }, SITE, hub.fetch, {
      cache: new ModelCache(store),
    });
    expect(opened.cache?.status).toBe('uncached');
    expect(opened.cache?.reason).toMatch(/^this site's storage quota is full/);
    expect(opened.storedUrl).toBeNull();
    expect(store.used).toBe(0);
    expect(opened.summary.layers).toBe(5);
    // The weights are then read as before: in ranges, from the network.
    expect(hub.requests.filter((r) => r === 'model.safetensors range').length).toBeGreaterThan(1);
  });

  it('opens from the network when this browser has no cache, saying why', async () => {
    const hub = fakeHub();
    const opened = await inspectModel({ kind: 'url', url: FOLDER }, SITE, hub.fetch, {
      unavailable: 'Models cannot be stored in this browser: it offers no Origin Private File System',
    });
    expect(opened.cache).toEqual({
      status: 'uncached',
      storedAt: null,
      bytes: 0,
      reason: 'Models cannot be stored in this browser: it offers no Origin Private File System',
      dropped: null,
    });
    expect(weightRequests(hub.requests).every((r) => r.endsWith('range'))).toBe(true);
  });

  it('stores nothing when a download breaks off, and reports the URL', async () => {
    const store = new MemoryStore();
    const hub = fakeHub();
    const breaking = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await hub.fetch(input, init);
      if (!String(input).endsWith('model.safetensors') || new Headers(init?.headers).has('Range'))
        return response;
      let pulls = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulls++ === 0) controller.enqueue(new Uint8Array(1000));
          else controller.error(new TypeError('network error'));
        },
      });
      return new Response(body);
    }) as typeof fetch;
    await expect(
      inspectModel({ kind: 'url', url: FOLDER }, SITE, breaking, { cache: new ModelCache(store) }),
    ).rejects.toThrow(
      `${FOLDER}model.safetensors: could not be fetched (the download broke off after 1000 bytes`,
    );
    expect(store.data.size).toBe(0);
  });
});
