// What a host keeps of finished pruning runs (the studio's worker keeps them for a session). Masks are kept for every run, one bit per weight
// (1/32 of the f32 matrices), so the microscope can open and compare any two runs of a session.
// The pruned f32 tensors are kept only for the newest KEPT_TENSOR_RUNS runs: each is a full copy of
// the model's block matrices (0.9 MB for stories260K, ~340 MB for a 125M-parameter model, and
// gigabytes beyond), and exporting is what one does right after a run, or to pick between the last
// two; an older run is re-created from its recorded settings (the run is seeded and deterministic).
// A run whose tensors are kept on disk (cache/prunedOnOpfs.ts) has its files removed when they are
// dropped or the run is forgotten.

import type { ByteSource } from '../model/byteSource';
import type { EvalText } from '../model/evaluate';
import { exportHfModel } from '../model/export';
import type { WeightSource } from '../model/weights';
import type { PruneSummary } from '../prune/events';
import { prunedWeightSource } from '../prune/job';
import type { PrunedTensors } from '../prune/prunedTensors';

export const KEPT_TENSOR_RUNS = 2;

/** What a finished run leaves: the record the results table, the charts and the exports read. */
export interface PruneRun {
  id: string;
  /** ISO 8601. */
  createdAt: string;
  modelName: string;
  summary: PruneSummary;
  /** Null when the run was asked for no evaluation. */
  pplBefore: number | null;
  pplAfter: number | null;
  evalText: EvalText | null;
  seqLen: number | null;
  /** Windows scored (the same windows before and after). */
  windows: number | null;
  /** Where the calibration windows came from ('C4 sample …', a pasted text's label). */
  calibrationLabel: string;
  /** Lost devices the run survived by continuing from its last finished block. */
  resumes: number;
  /** Wall time of the whole job: calibration, both evaluations and the pruning. */
  totalMs: number;
  /** Whether the worker still holds the pruned weights (exportRun); masks are kept for every run. */
  exportable: boolean;
}

/** One file of a run exported as a Hugging Face folder. */
export interface ExportedRunFile {
  name: string;
  data: Uint8Array;
}

/** The files a run's pruned tensors live in when they are not in memory (a folder of the private file system). */
export interface RunFiles {
  remove(): Promise<void>;
}

export interface PackedMask {
  rows: number;
  cols: number;
  bits: Uint8Array;
}

/** Bit i (LSB first within each byte) is set when entry i is non-zero; unused bits of the last byte stay 0. */
export function packMask(data: Float32Array, rows: number, cols: number): PackedMask {
  if (data.length !== rows * cols)
    throw new RangeError(`a ${rows}×${cols} mask needs ${rows * cols} entries, got ${data.length}`);
  const bits = new Uint8Array(Math.ceil(data.length / 8));
  const whole = data.length >> 3;
  for (let b = 0; b < whole; b++) {
    const i = b << 3;
    bits[b] =
      (data[i] !== 0 ? 1 : 0) |
      (data[i + 1] !== 0 ? 2 : 0) |
      (data[i + 2] !== 0 ? 4 : 0) |
      (data[i + 3] !== 0 ? 8 : 0) |
      (data[i + 4] !== 0 ? 16 : 0) |
      (data[i + 5] !== 0 ? 32 : 0) |
      (data[i + 6] !== 0 ? 64 : 0) |
      (data[i + 7] !== 0 ? 128 : 0);
  }
  let tail = 0;
  for (let i = whole << 3; i < data.length; i++) if (data[i] !== 0) tail |= 1 << (i & 7);
  if (whole < bits.length) bits[whole] = tail;
  return { rows, cols, bits };
}

/** What summary.json holds: the run's settings, its numbers, and sparsity and error per matrix. */
export function summaryJson(run: PruneRun): string {
  const s: PruneSummary = run.summary;
  const matrices = s.blocks.flatMap((b) =>
    b.matrices.map((m) => ({
      tensor: m.tensor,
      rows: m.rows,
      cols: m.cols,
      sparsity: m.sparsity,
      error: m.error,
      relativeError: m.relativeError,
      ...(m.lambda === undefined ? {} : { lambda: m.lambda }),
    })),
  );
  const record = {
    prunedBy: 'compression-studio',
    model: run.modelName,
    createdAt: run.createdAt,
    method: s.method,
    options: s.options,
    sparsity: s.sparsity,
    calibration: { label: run.calibrationLabel, tokens: s.calibrationTokens },
    perplexity: {
      text: run.evalText,
      seqLen: run.seqLen,
      windows: run.windows,
      before: run.pplBefore,
      after: run.pplAfter,
    },
    matrices,
  };
  return `${JSON.stringify(record, null, 2)}\n`;
}

interface StoredRun {
  run: PruneRun;
  masks: Map<string, PackedMask>;
  /** Dropped once KEPT_TENSOR_RUNS newer runs exist. */
  tensors: PrunedTensors | null;
  /** Where the tensors are kept on disk, if they are; removed with them. */
  files: RunFiles | null;
  /** The dense model the run pruned, and the tokenizer files it was opened with (for export). */
  source: WeightSource;
  tokenizerFiles: ByteSource[];
}

export class PruneRunStore {
  private readonly runs = new Map<string, StoredRun>();

  constructor(private readonly keepTensors = KEPT_TENSOR_RUNS) {}

  /**
   * Keeps a finished run; the oldest run holding tensors beyond the newest `keepTensors` drops them
   * (and its files, which are removed before this resolves).
   */
  async add(
    run: PruneRun,
    tensors: PrunedTensors,
    source: WeightSource,
    tokenizerFiles: ByteSource[],
    files: RunFiles | null = null,
  ): Promise<PruneRun> {
    const masks = new Map<string, PackedMask>();
    for (const block of run.summary.blocks)
      for (const m of block.matrices) {
        const data = tensors.get(m.tensor);
        if (data) masks.set(m.tensor, packMask(data, m.rows, m.cols));
      }
    const stored: StoredRun = {
      run: { ...run, exportable: true },
      masks,
      tensors,
      files,
      source,
      tokenizerFiles,
    };
    this.runs.set(run.id, stored);
    const withTensors = [...this.runs.values()].filter((r) => r.tensors !== null);
    for (const old of withTensors.slice(0, Math.max(0, withTensors.length - this.keepTensors))) {
      old.tensors = null;
      old.run = { ...old.run, exportable: false };
      await release(old);
    }
    return stored.run;
  }

  get(runId: string): PruneRun | undefined {
    return this.runs.get(runId)?.run;
  }

  /** Runs that lost their tensors since `add`, so the UI can grey out their export. */
  list(): PruneRun[] {
    return [...this.runs.values()].map((r) => r.run);
  }

  mask(runId: string, tensor: string): PackedMask | undefined {
    return this.runs.get(runId)?.masks.get(tensor);
  }

  /** The run's model (its pruned tensors over the dense model); null when the tensors were dropped. */
  weights(runId: string): WeightSource | null {
    const stored = this.runs.get(runId);
    return stored?.tensors ? prunedWeightSource(stored.source, stored.tensors) : null;
  }

  hasRun(runId: string): boolean {
    return this.runs.has(runId);
  }

  /** Drops the run, and removes its files if its tensors were on disk. */
  async forget(runId: string): Promise<void> {
    const stored = this.runs.get(runId);
    this.runs.delete(runId);
    if (stored) await release(stored);
  }

  /**
   * The run's model as a Hugging Face folder: model.safetensors and config.json, the tokenizer
   * files the model was opened with, and summary.json. Null when the run's tensors were dropped.
   */
  async exportFiles(runId: string): Promise<ExportedRunFile[] | null> {
    const stored = this.runs.get(runId);
    if (!stored?.tensors) return null;
    const { run, tensors, source } = stored;
    const files: ExportedRunFile[] = await exportHfModel(prunedWeightSource(source, tensors), {
      pruned_by: 'compression-studio',
      method: run.summary.method,
    });
    files.push(...(await tokenizerExports(stored.tokenizerFiles)));
    files.push({ name: 'summary.json', data: new TextEncoder().encode(summaryJson(run)) });
    return files;
  }
}

/** Removes a run's files, once; the run's tensors are gone with them. */
async function release(stored: StoredRun): Promise<void> {
  const files = stored.files;
  stored.files = null;
  stored.tensors = null;
  await files?.remove();
}

/** The tokenizer files a model was opened or trained with, by their base names, to export beside its weights. */
export async function tokenizerExports(tokenizerFiles: readonly ByteSource[]): Promise<ExportedRunFile[]> {
  const files: ExportedRunFile[] = [];
  for (const f of tokenizerFiles) {
    const name = f.name.split(/[\\/]/).pop() ?? f.name;
    files.push({ name, data: new Uint8Array(await f.read(0, f.size)) });
  }
  return files;
}
