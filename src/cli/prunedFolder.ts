// The folder `prune --out` and `merge --out` write: a Hugging Face model (model.safetensors,
// config.json, the tokenizer files), summary.json (which blocks were pruned, from which model,
// with which options, and sparsity and error per matrix) and run-record.json. `merge` reads
// shards' folders back through readPrunedFolder, which names the folder and file that is wrong.

import { createHash } from 'node:crypto';
import { access, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { folderSources } from '../host/nodeFiles';
import { type OpenedModel, openModel } from '../model/checkpoint';
import { exportHfModel, hfConfigFile, streamHfSafetensors } from '../model/export';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import type { WeightSource } from '../model/weights';
import type { PruneSummary } from '../prune/events';
import type { PruneMethod } from '../prune/options';
import { type ModelIdentity, parseRunRecord, type RunRecord } from '../run/record';
import type { Shard } from './shard';

export const PRUNED_FOLDER_FORMAT = 'compression-studio/pruned-model';
export const SUMMARY_FILE = 'summary.json';
export const RECORD_FILE = 'run-record.json';

/** Files a tokenizer is read from: Hugging Face's, GPT-2's and llama2.c's (tok*.bin). */
export const TOKENIZER_FILE =
  /^(tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|vocab\.json|merges\.txt|tokenizer\.model|tok\d*\.bin)$/;

export interface MatrixEntry {
  tensor: string;
  block: number;
  rows: number;
  cols: number;
  sparsity: number;
  error: number;
  relativeError: number;
}

export interface PrunedFolderSummary {
  format: typeof PRUNED_FOLDER_FORMAT;
  method: PruneMethod;
  /** The run's options as its record keeps them (run/build.ts pruneConfig), blocks included. */
  options: Record<string, unknown>;
  /** Over the matrices pruned in this folder. */
  sparsity: number;
  /** The model's blocks, and those pruned here; every other tensor is the base model's. */
  layers: number;
  blocks: number[];
  shard: Shard | null;
  baseModel: ModelIdentity;
  matrices: MatrixEntry[];
  /** Set by merge: the shard folders joined, in block order, and their run records' ids. */
  mergedFrom?: { folder: string; blocks: number[]; shard: Shard | null; record: string }[];
}

export function matrixEntries(summary: Pick<PruneSummary, 'blocks'>): MatrixEntry[] {
  return summary.blocks.flatMap((b) =>
    b.matrices.map((m) => ({
      tensor: m.tensor,
      block: m.block,
      rows: m.rows,
      cols: m.cols,
      sparsity: m.sparsity,
      error: m.error,
      relativeError: m.relativeError,
    })),
  );
}

/**
 * Writes the model files and summary.json; returns the sha256 of model.safetensors as written.
 * With `compress`, the pruned matrices are stored compressed (docs/sparse.md).
 */
export async function writePrunedFolder(
  dir: string,
  source: WeightSource,
  tokenizerFiles: readonly { name: string; data: ArrayBuffer | Uint8Array }[],
  summary: PrunedFolderSummary,
  compress?: SparseExportFormat,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const metadata = { pruned_by: 'compression-studio', method: summary.method };
  const hash = createHash('sha256');
  if (compress) {
    const files = await exportHfModel(source, metadata, compress);
    for (const file of files) await writeFile(join(dir, file.name), file.data);
    hash.update((files.find((f) => f.name === 'model.safetensors') as { data: Uint8Array }).data);
  } else {
    // One tensor at a time, so a model larger than the host's memory is written too.
    const weights = await open(join(dir, 'model.safetensors'), 'w');
    try {
      await streamHfSafetensors(source, metadata, async (bytes) => {
        hash.update(bytes);
        // writeFile writes all of it, from where the last write ended.
        await weights.writeFile(bytes);
      });
    } finally {
      await weights.close();
    }
    const config = hfConfigFile(source);
    await writeFile(join(dir, config.name), config.data);
  }
  // Only the tokenizer travels with the pruned weights: a folder's other files (the dense
  // checkpoint in another format, notes) would describe the model it was pruned from.
  for (const file of tokenizerFiles.filter((f) => TOKENIZER_FILE.test(f.name)))
    await writeFile(join(dir, file.name), new Uint8Array(file.data));
  await writeFile(join(dir, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
  return hash.digest('hex');
}

export interface PrunedFolder {
  dir: string;
  summary: PrunedFolderSummary;
  record: RunRecord;
  opened: OpenedModel;
  configJson: string;
  tokenizerFiles: { name: string; data: Uint8Array }[];
}

export class PrunedFolderError extends Error {
  override name = 'PrunedFolderError';
}

/** A folder written by `prune --out`, checked: every file present, summary and record well-formed. */
export async function readPrunedFolder(dir: string): Promise<PrunedFolder> {
  const fail = (message: string) => new PrunedFolderError(`${dir}: ${message}`);
  for (const name of [SUMMARY_FILE, RECORD_FILE, 'config.json', 'model.safetensors']) {
    try {
      await access(join(dir, name));
    } catch {
      throw fail(
        `${name} is missing, so this is not a whole \`prune --out\` folder (a shard that failed, or a copy not finished)`,
      );
    }
  }
  const json = async (name: string): Promise<unknown> => {
    const text = await readFile(join(dir, name), 'utf8');
    try {
      return JSON.parse(text);
    } catch (error) {
      throw fail(`${name} is not valid JSON (${(error as Error).message}); was the copy cut short?`);
    }
  };
  const summary = checkSummary(await json(SUMMARY_FILE), fail);
  let record: RunRecord;
  try {
    record = parseRunRecord(await json(RECORD_FILE));
  } catch (error) {
    if (error instanceof PrunedFolderError) throw error;
    throw fail(`${RECORD_FILE}: ${(error as Error).message}`);
  }
  let opened: OpenedModel;
  try {
    opened = await openModel(await folderSources(dir));
  } catch (error) {
    throw fail((error as Error).message);
  }
  const tokenizerFiles = await Promise.all(
    opened.otherFiles
      .filter((f) => TOKENIZER_FILE.test(f.name))
      .map(async (f) => ({ name: f.name, data: new Uint8Array(await f.read(0, f.size)) })),
  );
  return {
    dir,
    summary,
    record,
    opened,
    configJson: await readFile(join(dir, 'config.json'), 'utf8'),
    tokenizerFiles,
  };
}

function checkSummary(value: unknown, fail: (message: string) => Error): PrunedFolderSummary {
  const s = value as Partial<PrunedFolderSummary> | null;
  if (s?.format !== PRUNED_FOLDER_FORMAT)
    throw fail(
      `${SUMMARY_FILE} was not written by this version's \`prune --out\` (no "format": "${PRUNED_FOLDER_FORMAT}")`,
    );
  const layers = s.layers;
  const blocksOk =
    Number.isInteger(layers) &&
    Array.isArray(s.blocks) &&
    s.blocks.every((b) => Number.isInteger(b) && b >= 0 && b < (layers as number));
  if (!blocksOk)
    throw fail(`${SUMMARY_FILE} does not say which of the model's blocks it holds ("layers", "blocks")`);
  if (typeof s.baseModel?.sha256 !== 'string') throw fail(`${SUMMARY_FILE} does not name its base model`);
  if (typeof s.options !== 'object' || s.options === null || !Array.isArray(s.matrices))
    throw fail(`${SUMMARY_FILE} has no "options" or "matrices"`);
  return s as PrunedFolderSummary;
}
