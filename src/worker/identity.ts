// What a run record names its model and data by: the sha256 of the bytes as read. The weights are
// hashed slice by slice (a checkpoint may not fit in memory twice), once per loaded model; a
// built-in text is hashed from the file the site serves, once per session.

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { NetworkError } from '../jobs/loadFailure';
import type { ByteSource } from '../model/byteSource';
import { EVAL_TEXTS } from '../model/evaluate';
import { CALIBRATION_TEXTS } from '../prune/calibration';
import type { DataIdentity, ModelIdentity } from '../run/record';
import { sha256Hex } from '../run/record';
import { TRAIN_TEXTS } from '../train/data';
import type { BuiltinData, ModelSummary } from './api';

/** The site files behind the built-in names a record's data may carry. */
export const BUILTIN_DATA_FILES: Record<BuiltinData, string> = {
  wikitext2: EVAL_TEXTS.wikitext2.file,
  tinystories: EVAL_TEXTS.tinystories.file,
  c4: CALIBRATION_TEXTS.c4.file,
  tinyshakespeare: TRAIN_TEXTS.tinyshakespeare.file,
};

/** 16 MiB: few enough reads for a URL model, small enough to keep memory flat. */
const SLICE_BYTES = 16 * 2 ** 20;

/**
 * The sha256 of the sources' bytes, joined. Streamed through @noble/hashes (audited): Web Crypto's
 * digest() takes the whole message at once, and a checkpoint may not fit in memory twice.
 */
export async function hashSources(sources: readonly ByteSource[], sliceBytes = SLICE_BYTES): Promise<string> {
  const hash = sha256.create();
  for (const source of sources) {
    for (let at = 0; at < source.size; at += sliceBytes) {
      hash.update(new Uint8Array(await source.read(at, Math.min(sliceBytes, source.size - at))));
    }
  }
  return bytesToHex(hash.digest());
}

const modelHashes = new WeakMap<readonly ByteSource[], Promise<string>>();

/** The loaded model's identity; weightFiles is the same array for as long as that model is loaded. */
export async function modelIdentity(
  summary: ModelSummary,
  weightFiles: readonly ByteSource[],
): Promise<ModelIdentity> {
  let hash = modelHashes.get(weightFiles);
  if (!hash) {
    hash = hashSources(weightFiles);
    modelHashes.set(weightFiles, hash);
    // A failed read (a URL gone offline) is tried again next time rather than remembered.
    hash.catch(() => modelHashes.delete(weightFiles));
  }
  return {
    name: summary.name,
    sha256: await hash,
    files: summary.weightFiles,
    parameters: summary.parameters,
  };
}

const dataHashes = new Map<string, Promise<DataIdentity>>();

export function dataIdentity(
  name: BuiltinData,
  siteRoot: string,
  fetchFn: typeof fetch = fetch,
): Promise<DataIdentity> {
  const url = new URL(BUILTIN_DATA_FILES[name], siteRoot).href;
  let identity = dataHashes.get(url);
  if (!identity) {
    identity = (async () => {
      let response: Response;
      try {
        response = await fetchFn(url);
      } catch (error) {
        throw new NetworkError(url, error instanceof Error ? error.message : String(error));
      }
      if (!response.ok)
        throw new NetworkError(url, `the server answered ${response.status} ${response.statusText}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      return { name, sha256: await sha256Hex([bytes]), bytes: bytes.byteLength };
    })();
    dataHashes.set(url, identity);
    identity.catch(() => dataHashes.delete(url));
  }
  return identity;
}
