import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLlama2cTokenizer } from '../tokenizer/llama2c';
import { BatchSampler, splitTokens, TrainDataError, tokenizeTrainText, validationWindows } from './data';

const tokens = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 500);

describe('training data', () => {
  it('holds out the tail, and both parts hold a window', () => {
    const { train, validation } = splitTokens(tokens, 0.1, 32);
    expect(train.length).toBe(900);
    expect(Array.from(validation)).toEqual(tokens.slice(900));
    expect(() => splitTokens(tokens.slice(0, 100), 0.1, 32)).toThrow(TrainDataError);
    expect(() => splitTokens(tokens, 0, 32)).toThrow(/validation fraction/);
  });

  it('samples the same batches for the same seed and step, with next-token targets', () => {
    const { train } = splitTokens(tokens, 0.1, 32);
    const a = new BatchSampler(train, 32, 4, 7);
    const b = new BatchSampler(train, 32, 4, 7);
    expect(a.batchAt(5)).toEqual(b.batchAt(5));
    expect(a.batchAt(5)).not.toEqual(a.batchAt(6));
    expect(new BatchSampler(train, 32, 4, 8).batchAt(5)).not.toEqual(a.batchAt(5));
    for (const w of a.batchAt(3)) {
      expect(w.ids).toHaveLength(32);
      const start = Array.from(train).findIndex((_, i) => w.ids.every((id, t) => train[i + t] === id));
      expect(start).toBeGreaterThanOrEqual(0);
      expect(w.targets).toEqual(Array.from(train.subarray(start + 1, start + 33)));
    }
  });

  it('refuses a batch larger than the data', () => {
    const { train } = splitTokens(tokens, 0.1, 32);
    expect(() => new BatchSampler(train, 32, 30, 0)).toThrow(
      /a batch of 30 windows × 32 tokens \(960\) is larger than the 900 training tokens/,
    );
    expect(() => new BatchSampler(train, 32, 0, 0)).toThrow(/batch must be an integer/);
  });

  it('scores fixed, non-overlapping validation windows', () => {
    const v = Uint32Array.from(tokens.slice(0, 100));
    const windows = validationWindows(v, 32, 10);
    expect(windows).toHaveLength(3);
    expect(windows[1]?.ids).toEqual(tokens.slice(32, 64));
    expect(windows[1]?.targets).toEqual(tokens.slice(33, 65));
  });

  it('tokenizes TinyStories story by story with a BOS each', () => {
    const tokenizer = parseLlama2cTokenizer(readFileSync('public/models/stories260K/tok512.bin').buffer, 512);
    const raw = readFileSync('public/data/tinystories/valid-sample.txt', 'utf8').slice(0, 3000);
    const ids = tokenizeTrainText('tinystories', raw, tokenizer);
    expect(ids[0]).toBe(1);
    expect(ids.filter((id) => id === 1).length).toBeGreaterThan(1);
    const plain = tokenizeTrainText('tinyshakespeare', 'First Citizen:', tokenizer);
    expect(plain[0]).toBe(1);
    expect(tokenizer.decode(plain)).toBe('First Citizen:');
  });
});
