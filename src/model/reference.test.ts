import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { erf } from '../kernels/reference.model';
import { parseLlama2cTokenizer } from '../tokenizer';
import { parseLlama2c } from './llama2c';
import { referenceLogits } from './reference';
import { STORIES260K_GREEDY } from './testModels';

const file = (name: string) => {
  const b = readFileSync(new URL(`../../public/models/stories260K/${name}`, import.meta.url));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};

describe('float64 reference forward', () => {
  it('decodes stories260K greedily into the text the original C implementation prints', () => {
    const model = parseLlama2c('stories260K.bin', file('stories260K.bin'));
    const tokenizer = parseLlama2cTokenizer(file('tok512.bin'), 512);
    const ids = [1];
    while (ids.length < 40) {
      const logits = referenceLogits(model.config, model.tensors, ids).at(-1) as Float64Array;
      ids.push(logits.indexOf(Math.max(...logits)));
    }
    expect(tokenizer.decode(ids).startsWith(STORIES260K_GREEDY)).toBe(true);
  });

  it('computes erf to double precision', () => {
    // Values from the defining integral (Abramowitz & Stegun table 7.1, more digits).
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erf(-1)).toBeCloseTo(-0.8427007929497149, 15);
    expect(erf(2)).toBeCloseTo(0.9953222650189527, 15);
    expect(erf(3.5)).toBeCloseTo(0.9999992569016276, 15);
  });
});
