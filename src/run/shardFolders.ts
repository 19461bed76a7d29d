// Shards' folders (`prune --shard i/n`, or `--blocks`) joined into one pruned model. Each block's
// weight matrices come from the shard that pruned it; every other tensor (embeddings, norms,
// biases, the head) must be bit-identical in all shards, which also proves they were cut from the
// same model. Shards are refused, with the folder named, when they overlap, leave blocks out,
// disagree on config or options, or record different base models (sha256 of the weights).

import { canonicalTensors, type WeightSource } from '../model/weights';
import type { RecordedPruneSummary } from './build';
import { recordedSummary } from './merge';
import { type PrunedFolder, RECORD_FILE } from './prunedFolder';
import { describeBlocks } from './shards';

export class MergeError extends Error {
  override name = 'MergeError';
}

/**
 * Checks that the shards are parts of one run, and puts them in block order. Returns their
 * records' summaries, in that order.
 */
export function checkShards(shards: PrunedFolder[]): RecordedPruneSummary[] {
  const first = shards[0];
  if (!first) throw new MergeError('no shard folders given');
  for (const s of shards.slice(1)) {
    if (s.summary.baseModel.sha256 !== first.summary.baseModel.sha256)
      throw new MergeError(
        `${s.dir} was pruned from a different model than ${first.dir}: base model sha256 ` +
          `${s.summary.baseModel.sha256.slice(0, 12)}… (${s.summary.baseModel.name}) against ` +
          `${first.summary.baseModel.sha256.slice(0, 12)}… (${first.summary.baseModel.name})`,
      );
    const config = firstDifference(first.opened.config, s.opened.config, 'config');
    if (config) throw new MergeError(`${s.dir} and ${first.dir} have different model configs: ${config}`);
    const { blocks: _a, ...firstOptions } = first.summary.options;
    const { blocks: _b, ...options } = s.summary.options;
    const option = firstDifference(firstOptions, options, 'options');
    if (option)
      throw new MergeError(`${s.dir} and ${first.dir} were pruned with different settings: ${option}`);
    const tokenizer = firstDifference(
      first.tokenizerFiles.map((f) => [f.name, Buffer.from(f.data).toString('base64')]),
      s.tokenizerFiles.map((f) => [f.name, Buffer.from(f.data).toString('base64')]),
      'tokenizer files',
    );
    if (tokenizer) throw new MergeError(`${s.dir} and ${first.dir} hold different tokenizer files`);
  }
  const owner = new Map<number, PrunedFolder>();
  for (const s of shards) {
    for (const block of s.summary.blocks) {
      const other = owner.get(block);
      if (other)
        throw new MergeError(
          `block ${block} was pruned in both ${other.dir} and ${s.dir}: give each block once`,
        );
      owner.set(block, s);
    }
  }
  const missing = Array.from({ length: first.summary.layers }, (_, b) => b).filter((b) => !owner.has(b));
  if (missing.length) {
    const counts = new Set(shards.map((s) => s.summary.shard?.count));
    const count = counts.size === 1 ? [...counts][0] : undefined;
    const have = new Set(shards.map((s) => s.summary.shard?.index));
    const absent = count
      ? Array.from({ length: count }, (_, i) => `${i + 1}/${count}`).filter((_, i) => !have.has(i + 1))
      : [];
    const hint = absent.length
      ? `; shard ${absent.join(', ')} ${absent.length > 1 ? 'are' : 'is'} missing`
      : '';
    const which = missing.length > 1 ? `blocks ${describeBlocks(missing)} are` : `block ${missing[0]} is`;
    throw new MergeError(`${which} in none of the folders given${hint}`);
  }
  shards.sort((a, b) => (a.summary.blocks[0] as number) - (b.summary.blocks[0] as number));
  return shards.map((s) => {
    const detail = recordedSummary(s.record, `${s.dir}/${RECORD_FILE}`);
    const recorded = detail.blocks.map((b) => b.block).join(',');
    const matrices = [...new Set(s.summary.matrices.map((m) => m.block))].join(',');
    if (recorded !== s.summary.blocks.join(',') || matrices !== recorded)
      throw new MergeError(
        `${s.dir}: summary.json (blocks ${describeBlocks(s.summary.blocks)}) and ${RECORD_FILE} ` +
          `(blocks ${describeBlocks(detail.blocks.map((b) => b.block))}) disagree; was one of them replaced?`,
      );
    return detail;
  });
}

/** Where two JSON-like values first differ, as 'path: a ≠ b', or null when they are equal. */
export function firstDifference(a: unknown, b: unknown, path: string): string | null {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`;
}

/**
 * The merged model: each pruned matrix from its shard, every other tensor checked equal in all.
 * onTensor is told each tensor read, of how many.
 */
export function mergedSource(
  shards: PrunedFolder[],
  onTensor: (done: number, total: number) => void = () => {},
): WeightSource {
  const first = shards[0] as PrunedFolder;
  const owner = new Map<string, PrunedFolder>();
  for (const s of shards) for (const m of s.summary.matrices) owner.set(m.tensor, s);
  const total = canonicalTensors(first.opened.config).length;
  let done = 0;
  return {
    config: first.opened.config,
    description: `merge of ${shards.map((s) => s.dir).join(', ')}`,
    // The shards hold the base model's dtypes (prune --out keeps them), and so does the merge.
    dtype: (name) => first.opened.weights.dtype?.(name) ?? 'F32',
    async read(name) {
      const from = owner.get(name);
      let data: Float32Array;
      if (from) data = await from.opened.weights.read(name);
      else {
        data = await first.opened.weights.read(name);
        const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
        for (const s of shards.slice(1)) {
          const other = await s.opened.weights.read(name);
          const otherBits = new Uint32Array(other.buffer, other.byteOffset, other.length);
          if (otherBits.length !== bits.length || otherBits.some((v, i) => v !== bits[i]))
            throw new MergeError(
              `tensor ${name} differs between ${first.dir} and ${s.dir}, and neither pruned it: ` +
                'the shards were not cut from the same model',
            );
        }
      }
      onTensor(++done, total);
      return data;
    },
  };
}
