import { describe, expect, it } from 'vitest';
import { blobSource, bytesSource, ModelFormatError, urlSource } from './byteSource';

const DATA = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

/** A server that honours Range as static hosts do, counting the bytes it sends. */
function rangeServer(options: { ranges?: boolean } = {}) {
  const log = { requests: 0, bytes: 0 };
  const fetchFn = (async (_url: string, init?: RequestInit) => {
    log.requests++;
    const range = new Headers(init?.headers).get('Range');
    const match = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
    if (!match || options.ranges === false) {
      log.bytes += DATA.length;
      return new Response(DATA.slice(), { status: 200 });
    }
    const [begin, end] = [Number(match[1]), Number(match[2])];
    const body = DATA.slice(begin, end + 1);
    log.bytes += body.length;
    return new Response(body, {
      status: 206,
      headers: { 'Content-Range': `bytes ${begin}-${end}/${DATA.length}` },
    });
  }) as typeof fetch;
  return { fetchFn, log };
}

describe('byte sources', () => {
  it('reads ranges of a URL with range requests only', async () => {
    const { fetchFn, log } = rangeServer();
    const source = await urlSource('https://example.test/model.safetensors', fetchFn);
    expect(source.size).toBe(1000);
    expect(Array.from(new Uint8Array(await source.read(500, 4)))).toEqual(Array.from(DATA.slice(500, 504)));
    // The probe fetched eight bytes and the read four: nothing like the whole file.
    expect(log.bytes).toBe(12);
    await expect(source.read(998, 4)).rejects.toThrow(
      /past the end of the file \(1000 bytes\): the file is truncated/,
    );
  });

  it('takes its bytes from a larger answer than it asked for', async () => {
    // Some static servers answer a range with more bytes, saying where they start.
    const generous = (async (_url: string, init?: RequestInit) => {
      const begin = Number(/bytes=(\d+)-/.exec(new Headers(init?.headers).get('Range') ?? '')?.[1]);
      const from = Math.max(0, begin - 3);
      return new Response(DATA.slice(from), {
        status: 206,
        headers: { 'Content-Range': `bytes ${from}-${DATA.length - 1}/${DATA.length}` },
      });
    }) as typeof fetch;
    const source = await urlSource('https://example.test/m', generous);
    expect(Array.from(new Uint8Array(await source.read(100, 5)))).toEqual(Array.from(DATA.slice(100, 105)));
  });

  it('explains a server without range support', async () => {
    const { fetchFn } = rangeServer({ ranges: false });
    await expect(urlSource('https://example.test/m', fetchFn)).rejects.toThrow(
      /does not support range requests/,
    );
    const notFound = (async () =>
      new Response('', { status: 404, statusText: 'Not Found' })) as unknown as typeof fetch;
    await expect(urlSource('https://example.test/m', notFound)).rejects.toBeInstanceOf(ModelFormatError);
  });

  it('reads slices of a Blob and of memory without sharing their buffers', async () => {
    const blob = blobSource(new Blob([DATA]), 'model.bin');
    expect(Array.from(new Uint8Array(await blob.read(10, 3)))).toEqual([10, 11, 12]);
    const memory = bytesSource('m', DATA);
    const slice = await memory.read(0, 8);
    expect(slice.byteLength).toBe(8);
  });
});
