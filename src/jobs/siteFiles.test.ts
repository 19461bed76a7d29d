import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../run/record';
import { NetworkError } from './loadFailure';
import { dataIdentity } from './siteFiles';

const SITE = 'https://studio.test/app/';

describe('dataIdentity', () => {
  it('hashes the file the site serves under the text’s name', async () => {
    // Any bytes: what is checked is that the served file's bytes are what is hashed.
    const body = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31 + 7) & 255);
    const asked: string[] = [];
    const fetchFn = (async (url: string) => {
      asked.push(url);
      return new Response(body);
    }) as unknown as typeof fetch;
    const identity = await dataIdentity('tinystories', SITE, fetchFn);
    expect(identity).toEqual({ name: 'tinystories', sha256: await sha256Hex([body]), bytes: 5000 });
    expect(asked).toEqual([`${SITE}data/tinystories/valid-sample.txt`]);
  });

  it('names the URL when the server refuses, and asks again next time', async () => {
    let calls = 0;
    const fetchFn = (async () => {
      calls++;
      return new Response('missing', { status: 404, statusText: 'Not Found' });
    }) as unknown as typeof fetch;
    const failure = dataIdentity('c4', 'https://other.test/', fetchFn);
    await expect(failure).rejects.toThrow(NetworkError);
    await expect(failure).rejects.toThrow(/c4-sample.*404 Not Found/);
    await expect(dataIdentity('c4', 'https://other.test/', fetchFn)).rejects.toThrow(NetworkError);
    expect(calls).toBe(2);
  });
});
