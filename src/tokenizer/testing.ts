// For tests: a stand-in tokenizer for jobs on tiny models, and the TokenizerError a bad input throws.

import { expect } from 'vitest';
import { type Tokenizer, TokenizerError } from './tokenizer';

/**
 * For tests of jobs on tiny models: characters to ids 3..vocabSize − 1, BOS = 1. Enough of a
 * tokenizer to cut calibration windows from a text; it decodes nothing.
 */
export function characterTokenizer(vocabSize: number): Tokenizer {
  return {
    kind: 'test',
    vocabSize,
    bosId: 1,
    encode: (text, options) => [
      ...(options?.addBos ? [1] : []),
      ...[...text].map((ch) => 3 + ((ch.codePointAt(0) ?? 0) % (vocabSize - 3))),
    ],
    decode: () => '',
  };
}

/** The TokenizerError that `run` throws; fails the test if it throws anything else or nothing. */
export function tokenizerErrorOf(run: () => unknown): TokenizerError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TokenizerError);
    return error as TokenizerError;
  }
  throw new Error('expected a TokenizerError');
}
