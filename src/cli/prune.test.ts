import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { TOKENIZER_FILE } from '../run/prunedFolder';
import { parseBlocks, parsePattern } from './prune';

describe('prune command arguments', () => {
  it('reads sparsity as a percentage, a fraction or N:M', () => {
    expect(parsePattern('50%')).toEqual({ kind: 'unstructured', sparsity: 0.5 });
    expect(parsePattern('0.25')).toEqual({ kind: 'unstructured', sparsity: 0.25 });
    expect(parsePattern('2:4')).toEqual({ kind: 'nm', n: 2, m: 4 });
    expect(() => parsePattern('half')).toThrow(InvalidArgumentError);
  });

  it('exports tokenizer files only, never a dense checkpoint beside them', () => {
    for (const name of ['tok512.bin', 'tokenizer.json', 'vocab.json', 'merges.txt'])
      expect(TOKENIZER_FILE.test(name), name).toBe(true);
    for (const name of ['stories260K.bin', 'pytorch_model.bin', 'SOURCE.md'])
      expect(TOKENIZER_FILE.test(name), name).toBe(false);
  });

  it('reads block lists and ranges', () => {
    expect(parseBlocks('0-3')).toEqual([0, 1, 2, 3]);
    expect(parseBlocks('1,4-5')).toEqual([1, 4, 5]);
    expect(() => parseBlocks('3-1')).toThrow(/runs backwards/);
    expect(() => parseBlocks('a')).toThrow(InvalidArgumentError);
  });
});
