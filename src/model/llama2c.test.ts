import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from './byteSource';
import { parseLlama2c, toHalfRope } from './llama2c';
import { referenceLogits } from './reference';

const BIN = readFileSync(new URL('../../public/models/stories260K/stories260K.bin', import.meta.url));
const data = () => BIN.buffer.slice(BIN.byteOffset, BIN.byteOffset + BIN.byteLength);

describe('llama2.c import', () => {
  it('reads stories260K with the architecture its SOURCE.md documents', () => {
    const { config, tensors } = parseLlama2c('stories260K.bin', data());
    expect(config).toMatchObject({
      family: 'llama',
      hidden: 64,
      ffnHidden: 172,
      layers: 5,
      heads: 8,
      kvHeads: 4,
      headDim: 8,
      vocabSize: 512,
      maxPositions: 512,
      tiedEmbeddings: true,
      ropeStyle: 'interleaved',
    });
    expect(tensors.get('layers.4.k.weight')?.length).toBe(32 * 64);
    expect(tensors.get('final_norm.weight')?.length).toBe(64);
    const params = [...tensors.values()].reduce((n, t) => n + t.length, 0);
    expect(params).toBe(512 * 64 + 5 * (64 + 64 * 64 * 2 + 32 * 64 * 2 + 64 + 3 * 172 * 64) + 64);
  });

  it('permutes q and k to rotate_half without changing the logits', () => {
    const original = parseLlama2c('stories260K.bin', data());
    const half = toHalfRope(original);
    expect(half.config.ropeStyle).toBe('half');
    const ids = [1, 403, 407, 261, 378, 11, 300];
    const a = referenceLogits(original.config, original.tensors, ids);
    const b = referenceLogits(half.config, half.tensors, ids);
    let worst = 0;
    for (const [t, row] of a.entries()) {
      for (const [i, v] of row.entries())
        worst = Math.max(worst, Math.abs(v - ((b[t] as Float64Array)[i] as number)));
    }
    expect(worst).toBeLessThan(1e-9);
    // The permutation really moved rows (a no-op would pass the check above trivially).
    expect(half.tensors.get('layers.0.q.weight')).not.toEqual(original.tensors.get('layers.0.q.weight'));
  });

  it('refuses truncated and implausible files', () => {
    expect(() => parseLlama2c('m.bin', data().slice(0, 1000))).toThrow(/truncated/);
    expect(() => parseLlama2c('m.bin', new ArrayBuffer(10))).toThrow(ModelFormatError);
    const bad = data();
    new Int32Array(bad, 0, 7)[3] = 7; // 7 heads do not divide dim 64
    expect(() => parseLlama2c('m.bin', bad)).toThrow(/do not fit together/);
  });
});
