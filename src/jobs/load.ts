// Opening a model and loading it onto the GPU, whoever hosts it. The host resolves where the files
// are (a URL folder, this browser's store, dropped files, paths on disk) into ByteSources; the job
// does the rest. Opening reads headers only, so a person sees whether a model fits before a
// gigabyte moves; loading streams typed progress in bytes with an ETA, can be cancelled between
// tensors, and ends in exactly one outcome. Every failure leaves as a value with advice
// (loadFailure.ts), which the worker sends to the page and the CLI prints.

import { GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import type { ByteSource } from '../model/byteSource';
import { type OpenedModel, openModel } from '../model/checkpoint';
import type { ModelConfig } from '../model/config';
import type { EvalText } from '../model/evaluate';
import { fitCheck } from '../model/fit';
import { GpuModel, type Residency } from '../model/gpuModel';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import { tensorBytes, tensorStorage } from '../model/weightStorage';
import { canonicalTensors, type WeightSource } from '../model/weights';
import { loadTokenizer, type Tokenizer } from '../tokenizer';
import { fitRefusal, modelFailure } from './loadFailure';
import type {
  FitAnswer,
  FitOptions,
  LoadPhase,
  ModelLoadEvent,
  ModelLoadOutcome,
  ModelSummary,
} from './loadTypes';
import { throttle } from './throttle';

/** The window OPT and LLaMA are evaluated with in SparseGPT, Wanda and FISTAPruner. */
export const PAPER_SEQ_LEN = 2048;

/** Tokenizer files a checkpoint folder may carry, in any combination (loadTokenizer picks the richest). */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'merges.txt',
  'tok512.bin',
];
const isTokenizerFile = (name: string) =>
  TOKENIZER_FILES.includes(baseName(name)) || /^tok.*\.bin$/.test(baseName(name));

const PROGRESS_INTERVAL_MS = 100;
const MEMORY_INTERVAL_MS = 250;

const baseName = (name: string) => name.split(/[\\/]/).pop() ?? name;

/** A model whose headers have been read: enough for the fit check and for loading it. */
export interface InspectedModel {
  summary: ModelSummary;
  opened: OpenedModel;
  tokenizerFiles: ByteSource[];
  /** The files the weights are read from, in the order summary.weightFiles names them (hashed for run records). */
  weightFiles: ByteSource[];
  /** Told the size of every read from the model's files; the load job listens to mark the parse phase. */
  reads: { onRead: ((bytes: number) => void) | null };
}

/** A model on the GPU with its tokenizer, and the evaluation texts tokenized with it so far. */
export interface LoadedModel {
  model: GpuModel;
  tokenizer: Tokenizer;
  summary: ModelSummary;
  budgetBytes: number;
  tokens: Map<EvalText, number[]>;
}

// ---------------------------------------------------------------------------------------------
// Opening

/** Reads the headers of a model's files (a folder's, or one llama2.c file) and summarizes it; `name` is what to call it. */
export async function inspectFiles(name: string, files: ByteSource[]): Promise<InspectedModel> {
  const reads: InspectedModel['reads'] = { onRead: null };
  const observed = files.map((f) => observeReads(f, (bytes) => reads.onRead?.(bytes)));
  const opened = await openModel(observed);
  const tokenizerFiles = opened.otherFiles.filter((f) => isTokenizerFile(f.name));
  const summary = summarize(name, opened, tokenizerFiles);
  // The unobserved files: hashing them later must not count as the load job's reads.
  const weightFiles = summary.weightFiles.flatMap((w) => files.filter((f) => baseName(f.name) === w));
  return { summary, opened, tokenizerFiles, weightFiles, reads };
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
  const shape = configSummary(opened.config);
  return {
    name,
    format: opened.format,
    ...shape,
    paperSeqLen: PAPER_SEQ_LEN,
    defaultSeqLen: defaultSeqLen(opened.config),
    weightBytes: opened.weightBytes,
    // The description of a weight source lists the files it reads, comma-separated.
    weightFiles: opened.weights.description.split(', ').map(baseName),
    tokenizerFiles: tokenizerFiles.map((f) => baseName(f.name)),
  };
}

/**
 * The part of a model's summary its configuration decides (the architecture and the parameter
 * count), for the load job and for the worker's tests, which hold a model no file was opened for.
 */
export function configSummary(
  c: ModelConfig,
): Pick<
  ModelSummary,
  | 'family'
  | 'layers'
  | 'hidden'
  | 'heads'
  | 'kvHeads'
  | 'headDim'
  | 'ffnHidden'
  | 'vocabSize'
  | 'context'
  | 'parameters'
> {
  return {
    family: c.family,
    layers: c.layers,
    hidden: c.hidden,
    heads: c.heads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
    ffnHidden: c.ffnHidden,
    vocabSize: c.vocabSize,
    context: c.maxPositions,
    parameters: canonicalTensors(c).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0),
  };
}

export function defaultSeqLen(c: ModelConfig): number {
  return Math.min(PAPER_SEQ_LEN, c.maxPositions);
}

/** The tokenizer files' bytes (a host exports them beside pruned or trained weights), and the tokenizer read from them. */
export async function readTokenizer(
  inspected: InspectedModel,
): Promise<{ tokenizer: Tokenizer; files: { name: string; data: ArrayBuffer }[] }> {
  const files = await Promise.all(
    inspected.tokenizerFiles.map(async (f) => ({ name: f.name, data: await f.read(0, f.size) })),
  );
  return { tokenizer: loadTokenizer(files, { vocabSize: inspected.opened.config.vocabSize }), files };
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
  /** The sparse format to keep the blocks' matrices in on the GPU (a pruned model's pattern). */
  compress?: SparseExportFormat;
  /** Destroys the host's previously loaded model; called once the new one is known to be loadable. */
  dropPrevious?: () => void;
  emit: (event: ModelLoadEvent) => void;
  signal: AbortSignal;
  /**
   * Progress events at most this often (default 100 ms): the phase changes three times per tensor,
   * and a model of hundreds of small tensors would flood the page's channel. The last one is always sent.
   */
  progressMs?: number;
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
    const { opened, summary } = inspected;
    const { fit } = checkFit(rt, opened.config, options, opened.weights);
    if (fit.verdict === 'does not fit') {
      const { ok: _, ...refusal } = fitRefusal(summary.name, fit);
      return finish({ type: 'error', ...refusal });
    }
    const residency: Residency = fit.verdict === 'fits' ? 'resident' : 'streaming';
    // Counted as the tensors are stored densely, so the total is known before the first one (a
    // matrix kept compressed takes fewer bytes, known only once it is encoded).
    const planned = new Map(
      canonicalTensors(opened.config)
        .filter((t) => residency === 'resident' || !t.name.startsWith('layers.'))
        .map((t) => [t.name, tensorBytes(t, tensorStorage(opened.weights, t))]),
    );
    bytesTotal = [...planned.values()].reduce((s, b) => s + b, 0);
    const { tokenizer } = await readTokenizer(inspected);
    signal.throwIfAborted();

    // From here the old model is gone (two models need not fit in memory together), and 'started'
    // tells the UI so: a refusal or a tokenizer failure above leaves the loaded model in place.
    job.dropPrevious?.();
    const uploadStart = performance.now();
    emit({ type: 'started', name: summary.name, residency, bytesTotal, verdict: fit.verdict });

    const interval = job.progressMs ?? PROGRESS_INTERVAL_MS;
    let lastSent = Number.NEGATIVE_INFINITY;
    const progress = (phase: LoadPhase, item: string, force = false) => {
      const now = performance.now();
      if (!force && now - lastSent < interval) return;
      lastSent = now;
      const elapsedMs = now - uploadStart;
      const etaMs = bytesDone > 0 ? (elapsedMs / bytesDone) * (bytesTotal - bytesDone) : null;
      emit({ type: 'progress', phase, bytesDone, bytesTotal, item, elapsedMs, etaMs });
    };

    let tensor = '';
    let held = 0;
    inspected.reads.onRead = () => progress('parse', tensor);
    model = await GpuModel.load(rt, opened.weights, {
      residency,
      compress: job.compress,
      signal,
      onProgress: (p) => {
        // A tensor is done once the next one is read, or the load ends (tensor '').
        if (p.tensor !== tensor) bytesDone += planned.get(tensor) ?? 0;
        tensor = p.tensor;
        held = p.bytesDone;
        progress(p.phase, p.tensor, p.tensor === '');
      },
    });
    // Uploads are queued; a lost device or a failed allocation shows up here, not later in an evaluation.
    await rt.sync();
    signal.throwIfAborted();
    const loaded: LoadedModel = {
      model,
      tokenizer,
      summary,
      budgetBytes: options.budgetBytes,
      tokens: new Map(),
    };
    return finish(
      {
        type: 'loaded',
        summary,
        residency,
        bytesUploaded: held,
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
    const { ok: _, ...failure } = modelFailure(reason);
    return finish({ type: 'error', ...failure });
  }
}
