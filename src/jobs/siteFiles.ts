// Files under the site root (the shipped texts, the built-in tokenizer), fetched by the worker, and
// the shipped texts' identities for run records. A failure names the URL and says whether the
// connection or the server failed, so the person knows whether to check the network or the
// deployment.

import { BUILTIN_DATA_FILES, type BuiltinData, dataIdentityOf } from '../run/identity';
import type { DataIdentity } from '../run/record';
import { NetworkError } from './loadFailure';

export interface SiteFiles {
  text(path: string): Promise<string>;
  bytes(path: string): Promise<ArrayBuffer>;
}

/** Fetches paths relative to siteRoot (where the studio is served from). */
export function siteFiles(siteRoot: string, fetchFn: typeof fetch = fetch): SiteFiles {
  const get = async (path: string) => {
    const url = new URL(path, siteRoot).href;
    let response: Response;
    try {
      response = await fetchFn(url);
    } catch (error) {
      throw new NetworkError(url, error instanceof Error ? error.message : String(error));
    }
    if (!response.ok)
      throw new NetworkError(url, `the server answered ${response.status} ${response.statusText}`);
    return response;
  };
  return {
    text: async (path) => (await get(path)).text(),
    bytes: async (path) => (await get(path)).arrayBuffer(),
  };
}

const dataHashes = new Map<string, Promise<DataIdentity>>();

/** A shipped text's identity for run records, hashed from the file the site serves, once per session. */
export function dataIdentity(
  name: BuiltinData,
  siteRoot: string,
  fetchFn: typeof fetch = fetch,
): Promise<DataIdentity> {
  const file = BUILTIN_DATA_FILES[name];
  const url = new URL(file, siteRoot).href;
  let identity = dataHashes.get(url);
  if (!identity) {
    identity = siteFiles(siteRoot, fetchFn)
      .bytes(file)
      .then((bytes) => dataIdentityOf(name, new Uint8Array(bytes)));
    dataHashes.set(url, identity);
    identity.catch(() => dataHashes.delete(url));
  }
  return identity;
}
