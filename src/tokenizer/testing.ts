import type { Tokenizer } from './tokenizer';

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
