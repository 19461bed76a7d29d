// Training data: a text tokenized with the model's tokenizer, split into a training part and a
// held-out validation part, and a seeded batch sampler over the training part. The validation part
// is the text's tail (a contiguous held-out piece, so no training window overlaps it), scored on
// fixed non-overlapping windows so every arm and every evaluation sees the same tokens.

import { inBound, intervalOf } from '../bounds/bound';
import { Random } from '../kernels/random';
import { joinWikitext, splitStories } from '../model/datasets';
import type { Tokenizer } from '../tokenizer';
import { TRAIN_BOUNDS } from './options';

export type TrainText = 'tinyshakespeare' | 'tinystories' | 'wikitext2' | 'user';

/** The shipped texts, by the path under public/ the studio fetches and the CLI reads. */
export const TRAIN_TEXTS: Record<Exclude<TrainText, 'user'>, { label: string; file: string }> = {
  tinyshakespeare: { label: 'Tiny Shakespeare', file: 'data/tinyshakespeare/input.txt' },
  tinystories: { label: 'TinyStories (validation sample)', file: 'data/tinystories/valid-sample.txt' },
  wikitext2: { label: 'WikiText-2 (raw test)', file: 'data/wikitext-2/wiki.test.raw' },
};

export class TrainDataError extends Error {
  override name = 'TrainDataError';
}

/**
 * Token ids of a training text. TinyStories is tokenized story by story with a BOS each (the
 * convention the built-in model was trained with); the other texts as one document with one BOS.
 */
export function tokenizeTrainText(kind: TrainText, raw: string, tokenizer: Tokenizer): number[] {
  if (kind === 'tinystories') return splitStories(raw).flatMap((s) => tokenizer.encode(s, { addBos: true }));
  const text = kind === 'wikitext2' ? joinWikitext(raw) : raw;
  return tokenizer.encode(text, { addBos: true });
}

export interface DataSplit {
  train: Uint32Array;
  validation: Uint32Array;
}

/**
 * Holds out the last `fraction` of the tokens. Both parts must hold at least one window of
 * seqLen + 1 tokens (the window and its last target).
 */
export function splitTokens(tokens: readonly number[], fraction: number, seqLen: number): DataSplit {
  const bound = TRAIN_BOUNDS.validationFraction;
  if (!inBound(bound, fraction))
    throw new RangeError(`the validation fraction must lie in ${intervalOf(bound)}, got ${fraction}`);
  const cut = Math.round(tokens.length * (1 - fraction));
  const split = {
    train: Uint32Array.from(tokens.slice(0, cut)),
    validation: Uint32Array.from(tokens.slice(cut)),
  };
  for (const [part, ids] of Object.entries(split)) {
    if (ids.length < seqLen + 1) {
      throw new TrainDataError(
        `the text has ${tokens.length} tokens, so its ${part} part (${ids.length}) is shorter than one window of ` +
          `${seqLen} tokens plus its target; use a longer text, a shorter window or a different validation fraction`,
      );
    }
  }
  return split;
}

/** One window: ids[t] predicts targets[t] = the next token. */
export interface Window {
  ids: number[];
  targets: number[];
}

function windowAt(tokens: Uint32Array, start: number, seqLen: number): Window {
  const ids = Array.from(tokens.subarray(start, start + seqLen));
  const targets = Array.from(tokens.subarray(start + 1, start + seqLen + 1));
  return { ids, targets };
}

/**
 * Batches of `batch` windows at uniformly random offsets of the training tokens. Batch s depends
 * only on (seed, s), so a resumed or re-run job sees exactly the same batches, and every arm of a
 * comparison trains on the same data in the same order.
 */
export class BatchSampler {
  constructor(
    private readonly tokens: Uint32Array,
    readonly seqLen: number,
    readonly batch: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(batch) || batch < 1)
      throw new RangeError(`the batch must be an integer ≥ 1, got ${batch}`);
    if (!Number.isInteger(seqLen) || seqLen < 2)
      throw new RangeError(`the window must be ≥ 2 tokens, got ${seqLen}`);
    if (batch * seqLen > tokens.length - 1) {
      throw new TrainDataError(
        `a batch of ${batch} windows × ${seqLen} tokens (${batch * seqLen}) is larger than the ${tokens.length} ` +
          'training tokens; use a smaller batch, a shorter window or a longer text',
      );
    }
  }

  /** The windows of step s (0-based). */
  batchAt(step: number): Window[] {
    // A generator seeded by a mix of seed and step (splitmix-style constants) so steps are independent.
    const random = new Random(
      (Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(step + 1, 0xc2b2ae35)) >>> 0,
    );
    const span = this.tokens.length - this.seqLen;
    return Array.from({ length: this.batch }, () =>
      windowAt(this.tokens, Math.floor(random.next() * span), this.seqLen),
    );
  }
}

/** The first `count` non-overlapping windows of the validation tokens (fewer when it is shorter). */
export function validationWindows(tokens: Uint32Array, seqLen: number, count: number): Window[] {
  const fit = Math.floor((tokens.length - 1) / seqLen);
  return Array.from({ length: Math.min(fit, count) }, (_, i) => windowAt(tokens, i * seqLen, seqLen));
}
