import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLlama2cTokenizer } from '../tokenizer/llama2c';
import { CalibrationError, c4Documents, sampleCalibration } from './calibration';

const tokenizer = parseLlama2cTokenizer(readFileSync('public/models/stories260K/tok512.bin').buffer, 512);
const c4 = readFileSync('public/data/c4-sample/c4-train.00000-of-01024.first1000.jsonl', 'utf8');
const stories = readFileSync('public/data/tinystories/valid-sample.txt', 'utf8');

describe('calibration windows', () => {
  it('reads the 1000 documents of the shipped C4 sample', () => {
    const docs = c4Documents(c4);
    expect(docs).toHaveLength(1000);
    expect(docs[0]).toMatch(/^Beginners BBQ Class Taking Place in Missoula!/);
  });

  it('cuts C4 windows from documents longer than a window, reproducibly by seed', () => {
    const options = { windows: 5, seqLen: 64, seed: 7 };
    const a = sampleCalibration({ kind: 'c4' }, c4, tokenizer, options);
    expect(a).toHaveLength(5);
    for (const w of a) expect(w).toHaveLength(64);
    // Each window is a contiguous run of some document's tokens.
    const docs = c4Documents(c4).map((d) => tokenizer.encode(d, { addBos: true }).join(','));
    for (const w of a) expect(docs.some((d) => d.includes(w.join(',')))).toBe(true);
    expect(sampleCalibration({ kind: 'c4' }, c4, tokenizer, options)).toEqual(a);
    expect(sampleCalibration({ kind: 'c4' }, c4, tokenizer, { ...options, seed: 8 })).not.toEqual(a);
  });

  it('cuts TinyStories and user text from one token stream', () => {
    const w = sampleCalibration({ kind: 'tinystories' }, stories, tokenizer, {
      windows: 3,
      seqLen: 100,
      seed: 1,
    });
    expect(w.map((x) => x.length)).toEqual([100, 100, 100]);
    const text = 'Once upon a time there was a cat. '.repeat(20);
    const u = sampleCalibration({ kind: 'text', text, label: 'my text' }, text, tokenizer, {
      windows: 2,
      seqLen: 16,
      seed: 1,
    });
    expect(u).toHaveLength(2);
  });

  it('says when a text is too short for one window, and when C4 has no document long enough', () => {
    expect(() =>
      sampleCalibration({ kind: 'text', text: 'a cat', label: 'my text' }, 'a cat', tokenizer, {
        windows: 1,
        seqLen: 64,
        seed: 0,
      }),
    ).toThrow(CalibrationError);
    expect(() =>
      sampleCalibration({ kind: 'text', text: 'a cat', label: 'my text' }, 'a cat', tokenizer, {
        windows: 1,
        seqLen: 64,
        seed: 0,
      }),
    ).toThrow(/my text has \d+ tokens, fewer than one calibration window of 64/);
    const short = '{"text":"tiny"}\n{"text":"also tiny"}\n';
    expect(() =>
      sampleCalibration({ kind: 'c4' }, short, tokenizer, { windows: 1, seqLen: 64, seed: 0 }),
    ).toThrow(/no C4 document has more than 64 tokens/);
    expect(() => c4Documents('{"text":"ok"}\nnot json\n')).toThrow(/line 2 is not valid JSON/);
  });
});
