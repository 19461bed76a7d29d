// A large model's blocks split over n processes or machines (`prune --shard i/n`): shard i (1-based,
// as Vitest's and Playwright's --shard) takes a contiguous range, and the ranges are balanced:
// sizes differ by at most one block. shardFolders.ts joins what the shards wrote.

import { splitBlocks } from '../prune/parallel';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
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
