import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalTensors } from '../model/weights';
import { initialWeights, presetConfig } from '../train/modelPresets';
import { presetIdentity } from './presetIdentity';

describe('presetIdentity', () => {
  it('name a preset by the sha256 of its initial weights, as node:crypto computes it', async () => {
    const c = presetConfig('nano', 'llama', { size: 512, bosId: 1, eosId: 2 });
    const hash = createHash('sha256');
    let parameters = 0;
    const w = initialWeights(c, 9);
    for (const t of canonicalTensors(c)) {
      const data = w.get(t.name) as Float32Array;
      hash.update(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      parameters += data.length;
    }
    expect(await presetIdentity(c, 'nano llama', 9)).toEqual({
      name: 'nano llama',
      sha256: hash.digest('hex'),
      files: [],
      parameters,
    });
  });
});
