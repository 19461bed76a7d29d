// The identity a run record gives a model preset trained from scratch (src/train/modelPresets.ts).

import type { ModelConfig } from '../model/config';
import { canonicalTensors } from '../model/weights';
import { initialWeights } from '../train/modelPresets';
import { type ModelIdentity, sha256Hex } from './record';

/**
 * How a run record names a preset trained from scratch: it has no files, so it is named by the
 * sha256 of its initial weights (f32, canonical order), which the shapes and the seed determine.
 */
export async function presetIdentity(c: ModelConfig, name: string, seed: number): Promise<ModelIdentity> {
  const weights = initialWeights(c, seed);
  const parts = canonicalTensors(c).map((t) => {
    const w = weights.get(t.name) as Float32Array;
    return new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
  });
  const parameters = parts.reduce((n, p) => n + p.byteLength / 4, 0);
  return { name, sha256: await sha256Hex(parts), files: [], parameters };
}
