import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from './record';
import { Sha256 } from './sha256';

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('Sha256', () => {
  it('gives the FIPS 180-4 digests of the empty string and "abc"', () => {
    expect(new Sha256().digestHex()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new Sha256().update(new TextEncoder().encode('abc')).digestHex()).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  // Lengths around the padding edges (55, 56, 63, 64, 119, 120) and pieces that straddle blocks.
  it.each([1, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 65_537])(
    'matches node:crypto on %i bytes fed in odd pieces',
    (n) => {
      const data = bytes(n, n);
      const hash = new Sha256();
      for (let at = 0, piece = 1; at < n; at += piece, piece = (piece * 7 + 3) % 97 || 1) {
        hash.update(data.subarray(at, Math.min(n, at + piece)));
      }
      expect(hash.digestHex()).toBe(createHash('sha256').update(data).digest('hex'));
    },
  );

  it('equals sha256Hex over the joined parts', async () => {
    const parts = [bytes(100, 1), bytes(3, 2), bytes(4097, 3)];
    const hash = new Sha256();
    for (const p of parts) hash.update(p);
    expect(hash.digestHex()).toBe(await sha256Hex(parts));
  });

  it('refuses to be used after its digest', () => {
    const hash = new Sha256();
    hash.digestHex();
    expect(() => hash.update(new Uint8Array(1))).toThrow(/after digest/);
  });
});
