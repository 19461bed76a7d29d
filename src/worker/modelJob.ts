// Opening a model and loading it onto the GPU, as the worker's jobs. Opening reads headers only, so
// a person sees whether a model fits before a gigabyte moves; loading streams typed progress in
// bytes with an ETA, can be cancelled between tensors, and ends in exactly one outcome. Every
// failure leaves as a value with advice, because a class does not survive structured cloning.

import type { CacheManifest, ModelCache } from '../cache/modelCache';
import { GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { type ByteSource, blobSource, bytesSource, ModelFormatError, urlSource } from '../model/byteSource';
import { indexShards, type OpenedModel, openModel } from '../model/checkpoint';
import type { ModelConfig } from '../model/config';
import type { EvalText } from '../model/evaluate';
import { fitCheck } from '../model/fit';
import { GpuModel, type Residency } from '../model/gpuModel';
import { tensorBytes, tensorStorage } from '../model/weightStorage';
import { canonicalTensors, type WeightSource } from '../model/weights';
import { SparseFormatError } from '../sparse/formatError';
import { loadTokenizer, type Tokenizer, TokenizerError } from '../tokenizer';
import type {
  CacheNote,
  DownloadProgress,
  EngineFailure,
  FitAnswer,
  FitOptions,
  LoadPhase,
  ModelLoadEvent,
  ModelLoadOutcome,
  ModelSource,
  ModelSummary,
} from './api';
import { toFailure } from './failure';
import { modelFolderUrl } from './modelUrl';
import { throttle } from './throttle';

/** The window OPT and LLaMA are evaluated with in SparseGPT, Wanda and FISTAPruner. */
export const PAPER_SEQ_LEN = 2048;

/** The built-in model's folder under the site root, and the files it has (a fixed list: see fetchOptional). */
export const BUILTIN = {
  name: 'stories260K (built-in)',
  folder: 'models/stories260K/',
  files: ['config.json', 'model.safetensors', 'tok512.bin'],
};

/** Tokenizer files a checkpoint folder may carry, in any combination (loadTokenizer picks the richest). */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'tok512.bin'];
const isTokenizerFile = (name: string) =>
  TOKENIZER_FILES.includes(baseName(name)) || /^tok.*\.bin$/.test(baseName(name));

const PROGRESS_INTERVAL_MS = 100;
const MEMORY_INTERVAL_MS = 250;

/** A file that could not be fetched at all: offline, a wrong host, or a server without CORS. */
export class NetworkError extends Error {
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(`${url}: could not be fetched (${detail})`);
    this.name = 'NetworkError';
  }
}

/** A model whose headers have been read: enough for the fit check and for loading it. */
export interface InspectedModel {
  summary: ModelSummary;
  opened: OpenedModel;
  tokenizerFiles: ByteSource[];
  /** The files the weights are read from, in the order summary.weightFiles names them (hashed for run records). */
  weightFiles: ByteSource[];
  /** Told the size of every read from the model's files; the load job listens to mark the parse phase. */
  reads: { onRead: ((bytes: number) => void) | null };
  /** Whether a URL folder came from this browser's storage; null for other sources and without a cache. */
  cache: CacheNote | null;
  /** The folder URL whose stored copy the files are read from; null when they are not stored ones. */
  storedUrl: string | null;
}

/** The model cache as the worker holds it: the cache, or why this browser cannot have one. */
export type CacheSlot = { cache: ModelCache } | { unavailable: string };

/** A model on the GPU with its tokenizer, and the evaluation texts tokenized with it so far. */
export interface LoadedModel {
  model: GpuModel;
  tokenizer: Tokenizer;
  summary: ModelSummary;
  budgetBytes: number;
  tokens: Map<EvalText, number[]>;
}

const baseName = (name: string) => name.split(/[\\/]/).pop() ?? name;

// ---------------------------------------------------------------------------------------------
// Opening

/**
 * Opens a model from where the person said it is. siteRoot is where the studio is served from
 * (the built-in model lives under it); fetchFn is the browser's fetch, or a test's.
 */
export async function inspectModel(
  source: ModelSource,
  siteRoot: string,
  fetchFn: typeof fetch = fetch,
  /** Where URL folders are stored (the worker's); none in the CLI and most tests. */
  slot?: CacheSlot,
  /** Told of a download into the store as it goes, every 100 ms at most and at each file's end. */
  onDownload?: (progress: DownloadProgress) => void,
): Promise<InspectedModel> {
  const reads: InspectedModel['reads'] = { onRead: null };
  const {
    name,
    files,
    cache = null,
    storedUrl = null,
  } = await resolveSource(source, siteRoot, guardFetch(fetchFn), slot, onDownload);
  const observed = files.map((f) => observeReads(f, (bytes) => reads.onRead?.(bytes)));
  const opened = await openModel(observed);
  const tokenizerFiles = opened.otherFiles.filter((f) => isTokenizerFile(f.name));
  const summary = summarize(name, opened, tokenizerFiles);
  // The unobserved files: hashing them later must not count as the load job's reads.
  const weightFiles = summary.weightFiles.flatMap((w) => files.filter((f) => baseName(f.name) === w));
  return { summary, opened, tokenizerFiles, weightFiles, reads, cache, storedUrl };
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

function observeReads(source: ByteSource, onRead: (bytes: number) => void): ByteSource {
  return {
    name: source.name,
    size: source.size,
    async read(offset, length) {
      const data = await source.read(offset, length);
      onRead(data.byteLength);
      return data;
    },
  };
}

function summarize(name: string, opened: OpenedModel, tokenizerFiles: ByteSource[]): ModelSummary {
  const c = opened.config;
  const parameters = canonicalTensors(c).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  return {
    name,
    family: c.family,
    format: opened.format,
    layers: c.layers,
    hidden: c.hidden,
    heads: c.heads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
    ffnHidden: c.ffnHidden,
    vocabSize: c.vocabSize,
    context: c.maxPositions,
    paperSeqLen: PAPER_SEQ_LEN,
    defaultSeqLen: defaultSeqLen(c),
    parameters,
    weightBytes: opened.weightBytes,
    weightFiles: weightFileNames(opened),
    tokenizerFiles: tokenizerFiles.map((f) => baseName(f.name)),
  };
}

function weightFileNames(opened: OpenedModel): string[] {
  // The description of a weight source lists the files it reads, comma-separated.
  return opened.weights.description.split(', ').map(baseName);
}

export function defaultSeqLen(c: ModelConfig): number {
  return Math.min(PAPER_SEQ_LEN, c.maxPositions);
}

/** The fit check for a budget and window; the window defaults to the papers' or the model's context. */
export function checkFit(
  rt: GpuRuntime,
  config: ModelConfig,
  options: { budgetBytes: number; seqLen?: number },
  /** The weights, for how they are stored (a F16 or BF16 checkpoint's matrices stay 16-bit). */
  source?: WeightSource,
): FitAnswer {
  const seqLen = options.seqLen ?? defaultSeqLen(config);
  if (!(options.budgetBytes > 0) || !Number.isFinite(options.budgetBytes)) {
    throw new RangeError(`a memory budget of ${options.budgetBytes} bytes is not a positive size`);
  }
  if (!Number.isInteger(seqLen) || seqLen < 2 || seqLen > config.maxPositions) {
    throw new RangeError(
      `sequence length ${seqLen} is outside 2..${config.maxPositions}, the model's context length`,
    );
  }
  const fit = fitCheck(config, rt.limits, options.budgetBytes, seqLen, source);
  return {
    fit,
    options: { budgetBytes: options.budgetBytes, seqLen },
    limits: {
      maxBufferSize: rt.limits.maxBufferSize,
      maxStorageBufferBindingSize: rt.limits.maxStorageBufferBindingSize,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Loading

export interface LoadJob {
  rt: GpuRuntime;
  inspected: InspectedModel;
  options: FitOptions;
  /** Destroys the previously loaded model; called once the new one is known to be loadable. */
  dropPrevious: () => void;
  emit: (event: ModelLoadEvent) => void;
  signal: AbortSignal;
}

/**
 * Refuses a model that does not fit before anything is freed or uploaded. The tokenizer is read
 * before the weights, so that a missing or broken one is found before gigabytes are uploaded (a
 * model without a tokenizer cannot be evaluated).
 */
export async function runModelLoad(
  job: LoadJob,
): Promise<{ outcome: ModelLoadOutcome; loaded?: LoadedModel }> {
  const { rt, inspected, options, emit, signal } = job;
  const start = performance.now();
  const sendMemory = () => {
    const { liveBytes, peakBytes } = rt.ledger.snapshot();
    emit({ type: 'memory', liveBytes, peakBytes });
  };
  const memory = throttle(sendMemory, MEMORY_INTERVAL_MS);
  const unsubscribe = rt.ledger.subscribe(() => memory());
  let bytesDone = 0;
  let bytesTotal = 0;
  let model: GpuModel | null = null;

  const finish = (outcome: ModelLoadOutcome, loaded?: LoadedModel) => {
    unsubscribe();
    memory.cancel();
    inspected.reads.onRead = null;
    sendMemory();
    emit(outcome);
    return loaded ? { outcome, loaded } : { outcome };
  };

  try {
    const { fit } = checkFit(rt, inspected.opened.config, options, inspected.opened.weights);
    if (fit.verdict === 'does not fit') {
      return finish({
        type: 'error',
        kind: 'does-not-fit',
        message: `${inspected.summary.name} does not fit: ${fit.reasons.join('; ')}.`,
        advice:
          'Raise the memory budget if this GPU has more memory to spare, choose a shorter sequence length, or pick a smaller model.',
      });
    }
    const residency: Residency = fit.verdict === 'fits' ? 'resident' : 'streaming';
    const config = inspected.opened.config;
    bytesTotal = canonicalTensors(config)
      .filter((t) => residency === 'resident' || !t.name.startsWith('layers.'))
      .reduce((s, t) => s + tensorBytes(t, tensorStorage(inspected.opened.weights, t)), 0);
    const tokenizer = await readTokenizer(inspected, config);
    signal.throwIfAborted();

    // From here the old model is gone (two models need not fit in memory together), and 'started'
    // tells the UI so: a refusal or a tokenizer failure above leaves the loaded model in place.
    job.dropPrevious();
    const uploadStart = performance.now();
    emit({ type: 'started', name: inspected.summary.name, residency, bytesTotal, verdict: fit.verdict });

    let lastSent = Number.NEGATIVE_INFINITY;
    // The phase changes three times per tensor; a throttle keeps a model of hundreds of small
    // tensors from flooding the channel, and the final state is always sent (force).
    const progress = (phase: LoadPhase, item: string, force = false) => {
      const now = performance.now();
      if (!force && now - lastSent < PROGRESS_INTERVAL_MS) return;
      lastSent = now;
      const elapsedMs = now - uploadStart;
      const etaMs = bytesDone > 0 ? (elapsedMs / bytesDone) * (bytesTotal - bytesDone) : null;
      emit({ type: 'progress', phase, bytesDone, bytesTotal, item, elapsedMs, etaMs });
    };

    let tensor = '';
    inspected.reads.onRead = () => progress('parse', tensor);
    model = await GpuModel.load(rt, inspected.opened.weights, {
      residency,
      signal,
      onProgress: (p) => {
        tensor = p.tensor;
        bytesDone = p.bytesDone;
        progress(p.phase, p.tensor, p.bytesDone === p.bytesTotal && p.tensor === '');
      },
    });
    // Uploads are queued; a lost device or a failed allocation shows up here, not later in an evaluation.
    await rt.sync();
    signal.throwIfAborted();
    const loaded: LoadedModel = {
      model,
      tokenizer,
      summary: inspected.summary,
      budgetBytes: options.budgetBytes,
      tokens: new Map(),
    };
    return finish(
      {
        type: 'loaded',
        summary: inspected.summary,
        residency,
        bytesUploaded: bytesTotal,
        ms: performance.now() - start,
        tokenizer: `${tokenizer.kind} (${inspected.tokenizerFiles.map((f) => baseName(f.name)).join(', ')})`,
        budgetBytes: options.budgetBytes,
      },
      loaded,
    );
  } catch (error) {
    model?.destroy();
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (signal.aborted && !(reason instanceof GpuError)) {
      return finish({ type: 'cancelled', bytesDone, bytesTotal });
    }
    return finish({ type: 'error', ...modelFailureFields(reason) });
  }
}

async function readTokenizer(inspected: InspectedModel, config: ModelConfig): Promise<Tokenizer> {
  const files = await Promise.all(
    inspected.tokenizerFiles.map(async (f) => ({ name: f.name, data: await f.read(0, f.size) })),
  );
  return loadTokenizer(files, { vocabSize: config.vocabSize });
}

// ---------------------------------------------------------------------------------------------
// Failures

const MODEL_FORMAT_ADVICE =
  'Check that the files are complete (an interrupted download leaves a truncated file) and that they ' +
  'are a supported checkpoint: GPT-2, OPT or Llama as config.json with safetensors (F32, F16 or BF16), ' +
  'or a llama2.c .bin.';
const TOKENIZER_ADVICE =
  "Put the model's tokenizer beside its weights: tokenizer.json, vocab.json with merges.txt, or a llama2.c tok*.bin.";
const NETWORK_ADVICE =
  'Check the address and the connection. A server on another site must allow cross-origin requests ' +
  '(CORS) and range requests, as the Hugging Face hub does; otherwise download the folder and drop it here.';
const RANGE_ADVICE =
  "Check the sequence length against the model's context and the text's length. A token id outside the " +
  'vocabulary means the tokenizer does not belong to this model; NaN or Inf means the weights are broken.';
const DEVICE_LOST_ADVICE =
  'The loaded model was dropped with the device: load the model again, then rerun. If it keeps happening, ' +
  'close other GPU-heavy tabs or lower the memory budget.';

/** Like toFailure, but knowing the model's errors and that a lost device takes the model with it. */
export function modelFailure(error: unknown): EngineFailure {
  return { ok: false, ...modelFailureFields(error) };
}

function modelFailureFields(error: unknown): Omit<EngineFailure, 'ok'> {
  if (error instanceof ModelFormatError || error instanceof SparseFormatError) {
    return { kind: 'model-format', message: error.message, advice: MODEL_FORMAT_ADVICE };
  }
  if (error instanceof TokenizerError) {
    return { kind: 'tokenizer', message: error.message, advice: TOKENIZER_ADVICE };
  }
  if (error instanceof NetworkError)
    return { kind: 'network', message: error.message, advice: NETWORK_ADVICE };
  if (error instanceof RangeError) return { kind: 'range', message: error.message, advice: RANGE_ADVICE };
  if (error instanceof GpuError && error.kind === 'device-lost') {
    return { kind: error.kind, message: error.message, advice: DEVICE_LOST_ADVICE };
  }
  const { kind, message, advice } = toFailure(error);
  return { kind, message, advice };
}
