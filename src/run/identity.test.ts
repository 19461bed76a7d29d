import { describe, expect, it } from 'vitest';
import { bytesSource } from '../model/byteSource';
import { hashSources, modelIdentity } from './identity';
import { sha256Hex } from './record';

function noise(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 2654435761 + seed) >>> 24;
  return out;
}

describe('hashSources', () => {
  it('hashes files read in slices as the digest of their joined bytes', async () => {
    const parts = [noise(1000, 1), noise(0, 2), noise(333, 3)];
    const sources = parts.map((p, i) => bytesSource(`shard-${i}`, p));
    // 7-byte slices: every read straddles SHA-256's 64-byte blocks differently.
    expect(await hashSources(sources, 7)).toBe(await sha256Hex(parts));
  });
});

describe('modelIdentity', () => {
  it('names the weight files and hashes them once per loaded model', async () => {
    let reads = 0;
    const file = bytesSource('stories260K/model.safetensors', noise(200, 4));
    const counted = {
      ...file,
      read: (o: number, l: number) => {
        reads++;
        return file.read(o, l);
      },
    };
    const files = [counted];
    const summary = { name: 'tiny', weightFiles: ['model.safetensors'], parameters: 50 };
    const first = await modelIdentity(summary, files);
    const readsOnce = reads;
    expect(first).toEqual({
      name: 'tiny',
      sha256: await sha256Hex([noise(200, 4)]),
      files: ['model.safetensors'],
      parameters: 50,
    });
    expect(await modelIdentity(summary, files)).toEqual(first);
    expect(reads).toBe(readsOnce);
  });
});
