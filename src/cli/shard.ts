// `prune --shard i/n` on the command line; the shards' ranges are src/run/shards.ts's, and `merge`
// joins the shards' folders (merge.ts).

import { InvalidArgumentError } from 'commander';
import type { Shard } from '../run/shards';

export function parseShard(value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count)
    throw new InvalidArgumentError(`expected i/n with 1 ≤ i ≤ n, such as 1/4, got "${value}"`);
  return { index, count };
}
