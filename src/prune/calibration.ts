// Calibration windows: the token sequences whose activations every pruner's statistics are
// accumulated over. C4 follows the reference pipelines' rule (docs/algorithms/evaluation.md §1): draw a random document,
// redraw while it has no more tokens than a window, then take a random window of it. Other texts
// (TinyStories, the user's) are one token stream with random windows cut from it. Our generator is
// seeded mulberry32, not Python's `random`, so the windows are not the reference code's windows.

import { Random } from '../kernels/random';
import { splitStories } from '../model/datasets';
import type { Tokenizer } from '../tokenizer/tokenizer';
import type { CalibrationSource } from './options';

export const CALIBRATION_TEXTS = {
  c4: {
    label: 'C4 sample (1000 documents of the en train shard 0)',
    file: 'data/c4-sample/c4-train.00000-of-01024.first1000.jsonl',
  },
  tinystories: { label: 'TinyStories validation sample', file: 'data/tinystories/valid-sample.txt' },
} as const;

export class CalibrationError extends RangeError {
  override name = 'CalibrationError';
}

export interface SampleOptions {
  windows: number;
  seqLen: number;
  seed: number;
}

export function sampleCalibration(
  source: CalibrationSource,
  raw: string,
  tokenizer: Tokenizer,
  options: SampleOptions,
): number[][] {
  const random = new Random(options.seed);
  if (source.kind === 'c4') return sampleDocuments(c4Documents(raw), tokenizer, options, random);
  const texts = source.kind === 'tinystories' ? splitStories(raw) : [raw];
  const stream = texts.flatMap((t) => tokenizer.encode(t, { addBos: true }));
  const label = source.kind === 'text' ? source.label : CALIBRATION_TEXTS.tinystories.label;
  if (stream.length < options.seqLen) {
    throw new CalibrationError(
      `${label} has ${stream.length} tokens, fewer than one calibration window of ${options.seqLen}: give a longer text or shorter windows`,
    );
  }
  return Array.from({ length: options.windows }, () => {
    const start = Math.floor(random.next() * (stream.length - options.seqLen + 1));
    return stream.slice(start, start + options.seqLen);
  });
}

/** The texts of a C4 JSON-lines file; a line that is not a JSON object with a text field is an error. */
export function c4Documents(jsonl: string): string[] {
  const docs: string[] = [];
  const lines = jsonl.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim();
    if (!line) continue;
    let text: unknown;
    try {
      text = (JSON.parse(line) as { text?: unknown }).text;
    } catch {
      throw new CalibrationError(`C4 sample line ${i + 1} is not valid JSON`);
    }
    if (typeof text !== 'string') throw new CalibrationError(`C4 sample line ${i + 1} has no "text" string`);
    docs.push(text);
  }
  return docs;
}

function sampleDocuments(docs: string[], tokenizer: Tokenizer, o: SampleOptions, random: Random): number[][] {
  if (docs.length === 0) throw new CalibrationError('the C4 sample holds no documents');
  const tokens = new Map<number, number[]>();
  const tooShort = new Set<number>();
  const out: number[][] = [];
  while (out.length < o.windows) {
    const d = Math.floor(random.next() * docs.length);
    let ids = tokens.get(d);
    if (!ids) {
      ids = tokenizer.encode(docs[d] as string, { addBos: true });
      tokens.set(d, ids);
    }
    // The reference requires more tokens than the window (its start is drawn from 0..len − seqlen − 1).
    if (ids.length <= o.seqLen) {
      tooShort.add(d);
      if (tooShort.size === docs.length) {
        throw new CalibrationError(
          `no C4 document has more than ${o.seqLen} tokens: choose shorter calibration windows`,
        );
      }
      continue;
    }
    const start = Math.floor(random.next() * (ids.length - o.seqLen));
    out.push(ids.slice(start, start + o.seqLen));
  }
  return out;
}
