// Where the studio's models come from, for the load job (src/jobs/load.ts): the built-in model
// under the site root, dropped files, and URL folders laid out as on the Hugging Face hub, kept in
// this browser's store (src/cache) once downloaded. Everything else about opening, the fit check
// and loading is the job's, shared with the CLI.

import type { CacheManifest, ModelCache } from '../cache/modelCache';
import { inspectFiles, type InspectedModel as OpenedFiles, TOKENIZER_FILES } from '../jobs/load';
import { NetworkError } from '../jobs/loadFailure';
import { throttle } from '../jobs/throttle';
import { type ByteSource, blobSource, bytesSource, ModelFormatError, urlSource } from '../model/byteSource';
import { indexShards } from '../model/checkpoint';
import type { CacheNote, DownloadProgress, ModelSource } from './api';
import { modelFolderUrl } from './modelUrl';

/** The built-in model's folder under the site root, and the files it has (a fixed list: see fetchOptional). */
export const BUILTIN = {
  name: 'stories260K (built-in)',
  folder: 'models/stories260K/',
  files: ['config.json', 'model.safetensors', 'tok512.bin'],
};

const PROGRESS_INTERVAL_MS = 100;

/** A model opened by the worker: the job's, with where a URL folder's files came from. */
export interface InspectedModel extends OpenedFiles {
  /** Whether a URL folder came from this browser's storage; null for other sources and without a cache. */
  cache: CacheNote | null;
  /** The folder URL whose stored copy the files are read from; null when they are not stored ones. */
  storedUrl: string | null;
}

/** The model cache as the worker holds it: the cache, or why this browser cannot have one. */
export type CacheSlot = { cache: ModelCache } | { unavailable: string };

/**
 * Opens a model from where the person said it is. siteRoot is where the studio is served from
 * (the built-in model lives under it); fetchFn is the browser's fetch, or a test's.
 */
export async function inspectModel(
  source: ModelSource,
  siteRoot: string,
  fetchFn: typeof fetch = fetch,
  /** Where URL folders are stored (the worker's); none in most tests. */
  slot?: CacheSlot,
  /** Told of a download into the store as it goes, every 100 ms at most and at each file's end. */
  onDownload?: (progress: DownloadProgress) => void,
): Promise<InspectedModel> {
  const {
    name,
    files,
    cache = null,
    storedUrl = null,
  } = await resolveSource(source, siteRoot, guardFetch(fetchFn), slot, onDownload);
  return { ...(await inspectFiles(name, files)), cache, storedUrl };
}

async function resolveSource(
  source: ModelSource,
  siteRoot: string,
  fetchFn: typeof fetch,
  slot: CacheSlot | undefined,
  onDownload?: (progress: DownloadProgress) => void,
): Promise<{ name: string; files: ByteSource[]; cache?: CacheNote | null; storedUrl?: string | null }> {
  switch (source.kind) {
    case 'builtin': {
      const folder = new URL(BUILTIN.folder, siteRoot).href;
      // Small enough to fetch whole; this also spares the built-in model any dependence on the
      // host answering range requests.
      const files = await Promise.all(
        BUILTIN.files.map(async (file) => {
          const response = await fetchRequired(fetchFn, folder + file);
          return bytesSource(`stories260K/${file}`, await response.arrayBuffer());
        }),
      );
      return { name: BUILTIN.name, files };
    }
    case 'files': {
      if (source.files.length === 0) throw new ModelFormatError('(no files)', 'nothing was given');
      const files = source.files.map((f) => blobSource(f, f.webkitRelativePath || f.name));
      return { name: source.label || describeFiles(source.files.map((f) => f.name)), files };
    }
    case 'url': {
      return { name: source.url, ...(await urlFolder(source.url, fetchFn, slot, onDownload)) };
    }
  }
}

function describeFiles(names: string[]): string {
  return names.length <= 3
    ? names.join(', ')
    : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/** A file of a URL folder: small ones fetched whole while the folder is looked over, the weights later. */
type FolderFile = { name: string; bytes: ArrayBuffer } | { name: string; bytes: null };

/**
 * A folder laid out as on the Hugging Face hub: config.json, then model.safetensors or an index
 * with its shards, then whichever tokenizer files exist. With a cache, a stored copy is used
 * without a request, and a folder not stored yet is downloaded whole into it; without one (or
 * when storing fails) the weights are read from the network in ranges, never whole.
 */
async function urlFolder(
  url: string,
  fetchFn: typeof fetch,
  slot: CacheSlot | undefined,
  onDownload?: (progress: DownloadProgress) => void,
): Promise<{ files: ByteSource[]; cache: CacheNote | null; storedUrl: string | null }> {
  const folder = modelFolderUrl(url);
  let dropped: string | null = null;
  if (slot && 'cache' in slot) {
    const found = await slot.cache.lookup(folder);
    if (found.kind === 'hit') {
      return {
        files: found.files,
        storedUrl: folder,
        cache: { status: 'hit', ...storedFacts(found.manifest), reason: null, dropped: null },
      };
    }
    dropped = found.dropped;
  }

  const listed = await folderFiles(folder, fetchFn);
  if (slot && 'cache' in slot) {
    const stored = await slot.cache.save(
      folder,
      listed.map((file) => ({
        name: file.name,
        chunks: () =>
          file.bytes ? single(new Uint8Array(file.bytes)) : download(fetchFn, folder + file.name, onDownload),
      })),
    );
    if (stored.kind === 'stored') {
      return {
        files: stored.files,
        storedUrl: folder,
        cache: { status: 'stored', ...storedFacts(stored.manifest), reason: null, dropped },
      };
    }
    return {
      files: await networkFiles(folder, listed, fetchFn),
      storedUrl: null,
      cache: { status: 'uncached', storedAt: null, bytes: 0, reason: stored.reason, dropped },
    };
  }
  const cache: CacheNote | null = slot
    ? { status: 'uncached', storedAt: null, bytes: 0, reason: slot.unavailable, dropped: null }
    : null;
  return { files: await networkFiles(folder, listed, fetchFn), storedUrl: null, cache };
}

function storedFacts(manifest: CacheManifest): { storedAt: string; bytes: number } {
  return { storedAt: manifest.storedAt, bytes: manifest.files.reduce((s, f) => s + f.size, 0) };
}

/** The files the folder has: the small ones with their bytes, the weights by name only. */
async function folderFiles(folder: string, fetchFn: typeof fetch): Promise<FolderFile[]> {
  const config = await fetchRequired(fetchFn, `${folder}config.json`);
  const files: FolderFile[] = [{ name: 'config.json', bytes: await config.arrayBuffer() }];

  if (await exists(fetchFn, `${folder}model.safetensors`)) {
    files.push({ name: 'model.safetensors', bytes: null });
  } else {
    const indexName = 'model.safetensors.index.json';
    const index = await fetchOptional(fetchFn, folder + indexName);
    if (!index) {
      throw new ModelFormatError(
        folder,
        'has neither model.safetensors nor model.safetensors.index.json (only safetensors checkpoints can be opened from a URL)',
      );
    }
    const data = await index.arrayBuffer();
    files.push({ name: indexName, bytes: data });
    for (const shard of indexShards(folder + indexName, new TextDecoder().decode(data))) {
      files.push({ name: shard, bytes: null });
    }
  }

  for (const name of TOKENIZER_FILES) {
    const response = await fetchOptional(fetchFn, folder + name);
    if (response) files.push({ name, bytes: await response.arrayBuffer() });
  }
  return files;
}

async function networkFiles(
  folder: string,
  files: FolderFile[],
  fetchFn: typeof fetch,
): Promise<ByteSource[]> {
  const sources: ByteSource[] = [];
  for (const file of files) {
    sources.push(
      file.bytes ? bytesSource(folder + file.name, file.bytes) : await urlSource(folder + file.name, fetchFn),
    );
  }
  return sources;
}

/** A whole file from the network, chunk by chunk as it arrives, for the cache. */
async function* download(
  fetchFn: typeof fetch,
  url: string,
  onDownload?: (progress: DownloadProgress) => void,
): AsyncIterable<Uint8Array> {
  // Not through the HTTP cache: the file is about to be stored once already.
  const response = await fetchRequired(fetchFn, url, { cache: 'no-store' });
  const expected = Number(response.headers.get('Content-Length') ?? Number.NaN);
  let size = 0;
  const tell = () =>
    onDownload?.({
      type: 'download',
      file: url,
      bytesDone: size,
      bytesTotal: Number.isFinite(expected) ? expected : null,
    });
  const progress = throttle(tell, PROGRESS_INTERVAL_MS);
  const reader = response.body?.getReader();
  if (!reader) throw new NetworkError(url, 'the answer has no body');
  let finished = false;
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        throw new NetworkError(
          url,
          `the download broke off after ${size} bytes (${error instanceof Error ? error.message : String(error)})`,
        );
      }
      if (next.done) break;
      size += next.value.byteLength;
      progress();
      yield next.value;
    }
    finished = true;
    progress.cancel();
    tell();
  } finally {
    progress.cancel();
    // A store that gave up (its quota) stops pulling: the rest of the download is not wanted.
    if (finished) reader.releaseLock();
    else await reader.cancel().catch(() => {});
  }
  // A compressed answer's Content-Length counts the compressed bytes; only an uncompressed one is comparable.
  if (Number.isFinite(expected) && !response.headers.get('Content-Encoding') && size !== expected) {
    throw new NetworkError(url, `the download ended after ${size} of ${expected} bytes`);
  }
}

async function* single(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** fetch, with a failure to connect turned into a NetworkError that names the URL. */
function guardFetch(fetchFn: typeof fetch): typeof fetch {
  return async (input, init) => {
    try {
      return await fetchFn(input, init);
    } catch (error) {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      throw new NetworkError(url, error instanceof Error ? error.message : String(error));
    }
  };
}

async function fetchRequired(fetchFn: typeof fetch, url: string, init?: RequestInit): Promise<Response> {
  const response = await fetchFn(url, init);
  if (!response.ok || isHtmlFallback(response)) {
    await response.body?.cancel();
    const status = response.ok
      ? 'a web page instead of the file'
      : `${response.status} ${response.statusText}`;
    throw new ModelFormatError(url, `the server answered ${status}`);
  }
  return response;
}

/**
 * Null when the file is not there. Static hosts that serve a single-page app (Vite's dev server
 * among them) answer a missing file with index.html and status 200, so an HTML answer to a
 * request for a JSON or binary file counts as missing too.
 */
async function fetchOptional(fetchFn: typeof fetch, url: string): Promise<Response | null> {
  const response = await fetchFn(url);
  if (response.ok && !isHtmlFallback(response)) return response;
  await response.body?.cancel();
  if (response.status === 404 || response.status === 410 || response.ok) return null;
  throw new ModelFormatError(url, `the server answered ${response.status} ${response.statusText}`);
}

async function exists(fetchFn: typeof fetch, url: string): Promise<boolean> {
  // 8 bytes, not 1: some servers read "bytes=0-0" as the whole file. The body is cancelled unread.
  const response = await fetchFn(url, { headers: { Range: 'bytes=0-7' }, cache: 'no-store' });
  await response.body?.cancel();
  if (response.status === 404 || response.status === 410) return false;
  return response.ok && !isHtmlFallback(response);
}

function isHtmlFallback(response: Response): boolean {
  return (response.headers.get('Content-Type') ?? '').startsWith('text/html');
}
