// Model folders opened from a URL, kept in this browser so the next visit opens them without the
// network. One store folder per model URL holds its files, byte for byte as served, and a
// manifest naming each file with its size and sha256. The manifest is written last, so a folder
// without one is a download that never finished. Every file is hashed again before it is used: a
// copy that no longer matches (a damaged disk, a hand-edited file) drops the whole entry, and the
// model is fetched again.
//
// A stored folder is a snapshot, used whole: on a hit nothing is fetched, config.json included.
// Revalidating config.json alone could not tell whether the weights changed (a fine-tune keeps its
// config), and mixing files of two revisions would be worse than either; so a model opens offline,
// and a newer revision is fetched by deleting the stored copy (or by naming the revision).

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { ByteSource } from '../model/byteSource';
import { type FileStore, isQuotaError } from './fileStore';

export const MANIFEST = 'manifest.json';
const FORMAT = 'compression-studio/model-cache';
const VERSION = 1;
/** Files are hashed in slices this large: a checkpoint need not fit in memory twice. */
const SLICE_BYTES = 16 * 2 ** 20;

export interface CachedFile {
  name: string;
  size: number;
  sha256: string;
}

export interface CacheManifest {
  format: typeof FORMAT;
  version: typeof VERSION;
  /** The folder URL the files came from, ending in '/'. */
  url: string;
  /** ISO 8601. */
  storedAt: string;
  files: CachedFile[];
}

/** One stored model, as the studio lists it. */
export interface CachedModel {
  url: string;
  storedAt: string;
  bytes: number;
  files: CachedFile[];
}

/** A file to store: its name in the folder and its bytes, pulled chunk by chunk (a download). */
export interface PendingFile {
  name: string;
  chunks: () => AsyncIterable<Uint8Array>;
}

export type Lookup =
  | { kind: 'hit'; files: ByteSource[]; manifest: CacheManifest }
  /** dropped: why a stored copy was there and was thrown away; null when there was none. */
  | { kind: 'miss'; dropped: string | null };

export type Stored =
  | { kind: 'stored'; files: ByteSource[]; manifest: CacheManifest }
  | { kind: 'failed'; reason: string };

export class ModelCache {
  /** Folders being written now: listing must not take them for abandoned downloads. */
  private readonly writing = new Set<string>();

  constructor(private readonly store: FileStore) {}

  /** The stored files of a folder URL after checking each one's size and sha256, or why there are none. */
  async lookup(url: string): Promise<Lookup> {
    const key = folderKey(url);
    const read = await this.manifestOf(key, url);
    if (read.kind === 'absent') {
      // Leftovers of a download that never finished.
      await this.store.removeFolder(key);
      return { kind: 'miss', dropped: null };
    }
    if (read.kind === 'damaged') return this.drop(key, `its manifest is damaged (${read.reason})`);
    const files: ByteSource[] = [];
    for (const entry of read.manifest.files) {
      const source = await this.store.read(key, entry.name);
      if (!source) return this.drop(key, `${entry.name} is missing`);
      if (source.size !== entry.size) {
        return this.drop(key, `${entry.name} holds ${source.size} bytes instead of ${entry.size}`);
      }
      if ((await hashSource(source)) !== entry.sha256) {
        return this.drop(key, `${entry.name} no longer matches its sha256`);
      }
      files.push(named(source, url + entry.name));
    }
    return { kind: 'hit', files, manifest: read.manifest };
  }

  /**
   * Stores a folder's files, hashing them as they arrive, and then its manifest. When the store
   * refuses (its quota, or any other storage failure) what was written is removed and the reason
   * returned: the caller opens the model from the network instead. An error from the files
   * themselves (a download that broke off) is thrown, since the model cannot be opened either way.
   */
  async save(url: string, pending: PendingFile[], now = new Date()): Promise<Stored> {
    const key = folderKey(url);
    this.writing.add(key);
    try {
      await this.store.removeFolder(key);
      const files: CachedFile[] = [];
      for (const file of pending) {
        if (file.name === MANIFEST || file.name.includes('/')) {
          throw new Error(`"${file.name}" cannot be stored as a file of a model folder`);
        }
        const hash = sha256.create();
        let size = 0;
        let sourceFailed = false;
        const chunks = file.chunks();
        async function* hashed(): AsyncIterable<Uint8Array> {
          try {
            for await (const chunk of chunks) {
              hash.update(chunk);
              size += chunk.byteLength;
              yield chunk;
            }
          } catch (error) {
            sourceFailed = true;
            throw error;
          }
        }
        try {
          await this.store.write(key, file.name, hashed());
        } catch (error) {
          await this.store.removeFolder(key);
          if (sourceFailed) throw error;
          return { kind: 'failed', reason: storageFailure(error) };
        }
        files.push({ name: file.name, size, sha256: bytesToHex(hash.digest()) });
      }
      const manifest: CacheManifest = {
        format: FORMAT,
        version: VERSION,
        url,
        storedAt: now.toISOString(),
        files,
      };
      try {
        await this.store.write(
          key,
          MANIFEST,
          once(new TextEncoder().encode(JSON.stringify(manifest, null, 1))),
        );
      } catch (error) {
        await this.store.removeFolder(key);
        return { kind: 'failed', reason: storageFailure(error) };
      }
      const sources: ByteSource[] = [];
      for (const entry of files) {
        const source = await this.store.read(key, entry.name);
        if (!source) {
          await this.store.removeFolder(key);
          return { kind: 'failed', reason: `${entry.name} could not be read back after it was written` };
        }
        sources.push(named(source, url + entry.name));
      }
      return { kind: 'stored', files: sources, manifest };
    } finally {
      this.writing.delete(key);
    }
  }

  /**
   * Every stored model, newest first, and what was wrong with the folders that are not listed: an
   * entry whose manifest is damaged is removed here too, and an unfinished download quietly.
   */
  async list(): Promise<{ models: CachedModel[]; problems: string[] }> {
    const models: CachedModel[] = [];
    const problems: string[] = [];
    for (const key of await this.store.folders()) {
      if (this.writing.has(key)) continue;
      const read = await this.manifestOf(key, null);
      if (read.kind === 'absent') {
        await this.store.removeFolder(key);
      } else if (read.kind === 'damaged') {
        await this.store.removeFolder(key);
        problems.push(
          `A stored model (folder ${key}) was removed: its manifest is damaged (${read.reason}).`,
        );
      } else {
        const { url, storedAt, files } = read.manifest;
        models.push({ url, storedAt, files, bytes: files.reduce((s, f) => s + f.size, 0) });
      }
    }
    models.sort((a, b) => b.storedAt.localeCompare(a.storedAt) || a.url.localeCompare(b.url));
    return { models, problems };
  }

  /** Removes one stored model; false when it was not stored. */
  async remove(url: string): Promise<boolean> {
    const key = folderKey(url);
    const present = (await this.store.folders()).includes(key);
    await this.store.removeFolder(key);
    return present;
  }

  /** Removes every stored model (folders being written now are left to finish). */
  async clear(): Promise<void> {
    for (const key of await this.store.folders()) {
      if (!this.writing.has(key)) await this.store.removeFolder(key);
    }
  }

  private async drop(key: string, why: string): Promise<Lookup> {
    await this.store.removeFolder(key);
    return { kind: 'miss', dropped: `The stored copy was dropped: ${why}.` };
  }

  /** The folder's manifest; url, when given, must be the one it was stored for. */
  private async manifestOf(
    key: string,
    url: string | null,
  ): Promise<
    { kind: 'absent' } | { kind: 'damaged'; reason: string } | { kind: 'ok'; manifest: CacheManifest }
  > {
    const source = await this.store.read(key, MANIFEST);
    if (!source) return { kind: 'absent' };
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await source.read(0, source.size)));
    } catch (error) {
      return {
        kind: 'damaged',
        reason: `not JSON: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    const reason = manifestProblem(value);
    if (reason) return { kind: 'damaged', reason };
    const manifest = value as CacheManifest;
    if (url !== null && manifest.url !== url) {
      return { kind: 'damaged', reason: `it names ${manifest.url}, not ${url}` };
    }
    if (folderKey(manifest.url) !== key)
      return { kind: 'damaged', reason: `it names ${manifest.url}, stored elsewhere` };
    return { kind: 'ok', manifest };
  }
}

/** What is wrong with a parsed manifest, or null. */
function manifestProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const m = value as Record<string, unknown>;
  if (m.format !== FORMAT) return `format is ${JSON.stringify(m.format)}, not "${FORMAT}"`;
  if (m.version !== VERSION) return `version ${JSON.stringify(m.version)} is not ${VERSION}`;
  if (typeof m.url !== 'string' || !m.url.endsWith('/')) return 'url is not a folder URL';
  // ISO 8601 as toISOString writes it: Date.parse alone takes '0' for the year 2000.
  if (
    typeof m.storedAt !== 'string' ||
    !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(m.storedAt) ||
    Number.isNaN(Date.parse(m.storedAt))
  ) {
    return 'storedAt is not an ISO 8601 date';
  }
  if (!Array.isArray(m.files) || m.files.length === 0) return 'files is not a list of files';
  for (const [i, f] of m.files.entries()) {
    const file = f as Partial<CachedFile> | null;
    if (
      typeof file?.name !== 'string' ||
      file.name === '' ||
      file.name.includes('/') ||
      file.name === MANIFEST
    ) {
      return `files[${i}] has no valid name`;
    }
    if (!Number.isSafeInteger(file.size) || (file.size as number) < 0)
      return `files[${i}].size is not a size`;
    if (typeof file.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(file.sha256)) {
      return `files[${i}].sha256 is not a sha256`;
    }
  }
  return null;
}

function storageFailure(error: unknown): string {
  const detail = error instanceof Error ? error.message : String(error);
  return isQuotaError(error)
    ? `this site's storage quota is full (${detail}); delete stored models to make room`
    : `the browser's storage failed (${detail})`;
}

/** The store folder of a URL: its sha256, since a URL holds characters no file name may. */
export function folderKey(url: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(url))).slice(0, 32);
}

export async function hashSource(source: ByteSource): Promise<string> {
  const hash = sha256.create();
  for (let at = 0; at < source.size; at += SLICE_BYTES) {
    hash.update(new Uint8Array(await source.read(at, Math.min(SLICE_BYTES, source.size - at))));
  }
  return bytesToHex(hash.digest());
}

function named(source: ByteSource, name: string): ByteSource {
  return { name, size: source.size, read: (offset, length) => source.read(offset, length) };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
