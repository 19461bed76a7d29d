// What the folder `prune --out` and `merge --out` write holds besides a Hugging Face model:
// summary.json (which blocks were pruned, from which model, with which options, and sparsity and
// error per matrix) and run-record.json; and a folder read back, checked, which merge joins
// (shardFolders.ts). Writing and reading the files is the CLI's (cli/prunedFolder.ts).

import type { OpenedModel } from '../model/checkpoint';
import type { PruneSummary } from '../prune/events';
import type { PruneMethod } from '../prune/options';
import type { ModelIdentity, RunRecord } from './record';
import type { Shard } from './shards';

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

/** summary.json as read, checked enough to merge: `fail` names the folder and file. */
export function checkSummary(value: unknown, fail: (message: string) => Error): PrunedFolderSummary {
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
