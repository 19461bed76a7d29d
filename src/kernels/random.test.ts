import { afterEach, describe, expect, it, vi } from 'vitest';
import { freshSeed, Random } from './random';

// TEST_SEED is how a failure's printed seed is replayed (and how a flake hunt draws and logs the
// seed of each run): every fresh seed becomes that one, and a malformed value is refused by name
// instead of silently drawing random seeds the person believes are pinned.

describe('fresh seeds', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('are drawn at random without TEST_SEED, as 32-bit unsigned integers', () => {
    vi.stubEnv('TEST_SEED', '');
    const seeds = Array.from({ length: 64 }, () => freshSeed());
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32, String(s)).toBe(true);
    // 64 draws from 2^32 values: a repeat has probability about 5e-7.
    expect(new Set(seeds).size).toBe(64);
  });

  it('are all the pinned seed under TEST_SEED, and replay the same draws', () => {
    vi.stubEnv('TEST_SEED', '4294967295');
    expect([freshSeed(), freshSeed()]).toEqual([4294967295, 4294967295]);
    vi.stubEnv('TEST_SEED', '1234');
    expect(new Random(freshSeed()).uniform(5)).toEqual(new Random(1234).uniform(5));
  });

  it('refuses a TEST_SEED that is not an integer in [0, 2^32)', () => {
    for (const bad of ['-1', '4294967296', '1.5', 'abc'])
      expect(() => {
        vi.stubEnv('TEST_SEED', bad);
        freshSeed();
      }, bad).toThrow(`TEST_SEED must be an integer in [0, 2^32), got "${bad}"`);
  });
});
