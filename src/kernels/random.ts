// A small seeded generator (mulberry32) so that every kernel check draws fresh inputs from a seed
// it can print, and a failure can be replayed exactly.

export class Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** n values uniform in [lo, hi), as f32. */
  uniform(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }

  /** n small integers in [-range, range], exactly representable, so sums of them are exact in f32. */
  integers(n: number, range: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * (2 * range + 1)) - range;
    return out;
  }
}

/**
 * A fresh seed for a run that is not being replayed. In Node, TEST_SEED=<n> pins every fresh seed
 * to n, so a failure that printed its seed replays exactly (`TEST_SEED=n npx vitest run file -t name`),
 * and a flake hunt can draw and log the seed of each run itself. The browser has no `process`.
 */
export function freshSeed(): number {
  const pinned = pinnedSeed();
  return pinned ?? (Math.random() * 2 ** 32) >>> 0;
}

function pinnedSeed(): number | undefined {
  const text = typeof process === 'undefined' ? undefined : process.env?.TEST_SEED;
  if (text === undefined || text === '') return undefined;
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new Error(`TEST_SEED must be an integer in [0, 2^32), got "${text}"`);
  return seed;
}
