import { describe, expect, it } from 'vitest';
import { initialWeights, PRESETS, presetConfig } from './modelPresets';

describe('model presets', () => {
  it('build every size and family with d divisible by the heads and the paper-scale setup at the top', () => {
    for (const name of Object.keys(PRESETS) as (keyof typeof PRESETS)[]) {
      for (const family of ['gpt2', 'llama'] as const) {
        const c = presetConfig(name, family, { size: 512, bosId: 1, eosId: 2 });
        expect(c.heads * c.headDim).toBe(c.hidden);
        expect(c.tiedEmbeddings).toBe(true);
      }
    }
    expect(presetConfig('paper', 'gpt2', { size: 512, bosId: 1, eosId: 2 })).toMatchObject({
      layers: 4,
      hidden: 256,
      heads: 4,
      maxPositions: 128,
      ffnHidden: 1024,
    });
  });

  it('initialize by GPT-2’s rule: N(0, 0.02²), residual projections scaled, gains 1, biases 0', () => {
    const c = presetConfig('tiny', 'gpt2', { size: 512, bosId: 1, eosId: 2 });
    const w = initialWeights(c, 3);
    const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    expect(std(w.get('tok_embeddings') as Float32Array)).toBeCloseTo(0.02, 3);
    expect(std(w.get('layers.0.up.weight') as Float32Array)).toBeCloseTo(0.02, 3);
    expect(std(w.get('layers.0.down.weight') as Float32Array)).toBeCloseTo(0.02 / Math.sqrt(8), 3);
    expect((w.get('layers.1.attn_norm.weight') as Float32Array).every((v) => v === 1)).toBe(true);
    expect((w.get('layers.1.q.bias') as Float32Array).every((v) => v === 0)).toBe(true);
    expect(initialWeights(c, 3).get('layers.0.q.weight')).toEqual(w.get('layers.0.q.weight'));
  });
});
