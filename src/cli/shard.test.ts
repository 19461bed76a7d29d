import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseShard } from './shard';

describe('prune --shard i/n', () => {
  it('reads i/n, 1-based', () => {
    expect(parseShard('1/4')).toEqual({ index: 1, count: 4 });
    expect(parseShard(' 4/4 ')).toEqual({ index: 4, count: 4 });
    for (const bad of ['0/4', '5/4', '1/0', '1', 'a/b', '1/2/3', '-1/2'])
      expect(() => parseShard(bad), bad).toThrow(InvalidArgumentError);
  });
});
