// `prune --shard i/n`: a large model's blocks split over n processes or machines. Shard i (1-based,
// as Vitest's and Playwright's --shard) takes a contiguous range, and the ranges are balanced:
// sizes differ by at most one block. `merge` joins the shards' folders (merge.ts).

import { InvalidArgumentError } from 'commander';
import { splitBlocks } from '../prune/parallel';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export function parseShard(value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count)
    throw new InvalidArgumentError(`expected i/n with 1 ≤ i ≤ n, such as 1/4, got "${value}"`);
  return { index, count };
}

/** The blocks of shard i of n over a model of `layers` blocks: floor((i−1)·L/n) up to floor(i·L/n). */
export function shardBlocks(shard: Shard, layers: number): number[] {
  if (shard.count > layers)
    throw new RangeError(`${shard.count} shards of a ${layers}-block model would leave some shards empty`);
  const all = Array.from({ length: layers }, (_, l) => l);
  return splitBlocks(all, shard.count)[shard.index - 1] as number[];
}

/** '0-2, 5' for [0, 1, 2, 5]. */
export function describeBlocks(blocks: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < blocks.length; ) {
    let j = i;
    while (j + 1 < blocks.length && (blocks[j + 1] as number) === (blocks[j] as number) + 1) j++;
    parts.push(i === j ? `${blocks[i]}` : `${blocks[i]}-${blocks[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
