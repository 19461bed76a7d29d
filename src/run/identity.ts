// What a run record names its model and data by: the sha256 of the bytes as read, the same in both
// hosts. The weights are hashed slice by slice (a checkpoint may not fit in memory twice), once per
// loaded model; a text is hashed whole (the shipped ones are a few MB at most).

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { ByteSource } from '../model/byteSource';
import { EVAL_TEXTS } from '../model/evaluate';
import { CALIBRATION_TEXTS } from '../prune/calibration';
import { TRAIN_TEXTS } from '../train/data';
import { type DataIdentity, type ModelIdentity, sha256Hex } from './record';

/** The shipped texts a run record can name by their file's sha256. */
export type BuiltinData = 'wikitext2' | 'tinystories' | 'c4' | 'tinyshakespeare';

/** The site files behind the built-in names a record's data may carry. */
export const BUILTIN_DATA_FILES: Record<BuiltinData, string> = {
  wikitext2: EVAL_TEXTS.wikitext2.file,
  tinystories: EVAL_TEXTS.tinystories.file,
  c4: CALIBRATION_TEXTS.c4.file,
  tinyshakespeare: TRAIN_TEXTS.tinyshakespeare.file,
};

/** 16 MiB: few enough reads for a URL model, small enough to keep memory flat. */
const SLICE_BYTES = 16 * 2 ** 20;

/** An incremental sha256: @noble/hashes' in the studio, Node's native one in the CLI (several times faster). */
export interface StreamingHash {
  update(bytes: Uint8Array): unknown;
  digest(): Uint8Array;
}

/**
 * Streamed through @noble/hashes (audited) unless the host has a faster one: Web Crypto's digest()
 * takes the whole message at once, and a checkpoint may not fit in memory twice.
 */
const nobleSha256 = (): StreamingHash => sha256.create();

/** The sha256 of the sources' bytes, joined. */
export async function hashSources(
  sources: readonly ByteSource[],
  sliceBytes = SLICE_BYTES,
  createHash: () => StreamingHash = nobleSha256,
): Promise<string> {
  const hash = createHash();
  for (const source of sources) {
    for (let at = 0; at < source.size; at += sliceBytes) {
      hash.update(new Uint8Array(await source.read(at, Math.min(sliceBytes, source.size - at))));
    }
  }
  return bytesToHex(hash.digest());
}

/** What the identity says of the model besides its hash: the load job's summary has it. */
export interface ModelNames {
  name: string;
  /** The weight files, in the order the weight source reads them. */
  weightFiles: string[];
  parameters: number;
}

const modelHashes = new WeakMap<readonly ByteSource[], Promise<string>>();

/**
 * The model's identity: the sha256 of its weight files' bytes, concatenated in the order the weight
 * source reads them. weightFiles is the same array for as long as that model is loaded, so a model
 * is hashed once.
 */
export async function modelIdentity(
  summary: ModelNames,
  weightFiles: readonly ByteSource[],
  createHash?: () => StreamingHash,
): Promise<ModelIdentity> {
  let hash = modelHashes.get(weightFiles);
  if (!hash) {
    hash = hashSources(weightFiles, SLICE_BYTES, createHash);
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

/** A text's identity, from its bytes as read: 'wikitext2', 'c4', … or 'user'. */
export async function dataIdentityOf(name: string, bytes: Uint8Array): Promise<DataIdentity> {
  return { name, sha256: await sha256Hex([bytes]), bytes: bytes.byteLength };
}
