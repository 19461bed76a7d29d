// The folder `prune --out` and `merge --out` write: a Hugging Face model (model.safetensors,
// config.json, the tokenizer files), summary.json and run-record.json (src/run/prunedFolder.ts).
// `merge` reads shards' folders back through readPrunedFolder, which names the folder and file
// that is wrong.

import { createHash } from 'node:crypto';
import { access, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { folderSources } from '../host/nodeFiles';
import { type OpenedModel, openModel } from '../model/checkpoint';
import { exportHfModel, hfConfigFile, streamHfSafetensors } from '../model/export';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import type { WeightSource } from '../model/weights';
import {
  checkSummary,
  type PrunedFolder,
  PrunedFolderError,
  type PrunedFolderSummary,
  RECORD_FILE,
  SUMMARY_FILE,
  TOKENIZER_FILE,
} from '../run/prunedFolder';
import { parseRunRecord, type RunRecord } from '../run/record';

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
