import { afterEach, describe, expect, it, vi } from 'vitest';
import { perplexity } from './perplexity';

// The pass sizes the protocol hands a scorer, on a fake clock: each window costs 100 ms.
describe('passes of windows', () => {
  afterEach(() => vi.restoreAllMocks());

  function run(options: { windowsPerPass?: number; passMs?: number }, windows = 11) {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const sizes: number[] = [];
    const tokens = Array.from({ length: windows * 4 + 3 }, (_, i) => i % 7);
    const done: number[] = [];
    const result = perplexity(
      tokens,
      async (pass) => {
        sizes.push(pass.length);
        now += 100 * pass.length;
        return pass.map((w) => ({ nllSum: (w[0] as number) + 1, count: w.length - 1 }));
      },
      { seqLen: 4, ...options, onWindow: (p) => done.push(p.done) },
    );
    return { result, sizes, done };
  }

  it('hands fixed passes, the last one short, and reports every window', async () => {
    const { result, sizes, done } = run({ windowsPerPass: 4 });
    const r = await result;
    expect(sizes).toEqual([4, 4, 3]);
    expect(done).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(r.windows).toBe(11);
    expect(r.windowsPerPass).toBe(4);
    // Window w starts with token 4w mod 7, so its NLL sum is that plus one, over 3 predictions.
    const nll = Array.from({ length: 11 }, (_, w) => ((4 * w) % 7) + 1);
    expect(r.windowPpl).toEqual(nll.map((n) => Math.exp(n / 3)));
    expect(r.ppl).toBeCloseTo(Math.exp(nll.reduce((a, b) => a + b, 0) / 33), 12);
  });

  it('grows passes from one window to what fits passMs at the measured pace, capped by windowsPerPass', async () => {
    const { result, sizes } = run({ windowsPerPass: 5, passMs: 350 });
    expect((await result).windowsPerPass).toBe(3);
    // One window first (100 ms), then floor(350 / 100) = 3 at a time.
    expect(sizes).toEqual([1, 3, 3, 3, 1]);
    const capped = run({ windowsPerPass: 2, passMs: 1000 });
    await capped.result;
    expect(capped.sizes).toEqual([1, 2, 2, 2, 2, 2]);
  });

  it('refuses a pass size that is not a whole number, and a scorer that loses windows', async () => {
    await expect(run({ windowsPerPass: 0 }).result).rejects.toThrow(
      /windows per pass must be an integer ≥ 1, got 0/,
    );
    await expect(
      perplexity([1, 2, 3, 4, 5, 6, 7, 8], async () => [], { seqLen: 4, windowsPerPass: 2 }),
    ).rejects.toThrow(/returned 0 scores for a pass of 2 windows/);
  });

  it('continues after finished windows: scores only the rest, sums all in order, as one run does bit for bit', async () => {
    const tokens = Array.from({ length: 7 * 4 }, (_, i) => (i * 0.37) % 5);
    // Sums that are not exact in binary, so a different summation order would show.
    const scorer = (seen: number[]) => async (pass: readonly (readonly number[])[]) =>
      pass.map((w) => {
        seen.push(w[0] as number);
        return { nllSum: 0.1 + (w[0] as number) / 3, count: w.length - 1 };
      });
    const whole: { nllSum: number; count: number }[] = [];
    const first = await perplexity(tokens, scorer([]), {
      seqLen: 4,
      windowsPerPass: 3,
      onScore: (s) => whole.push(s),
    });
    const finished = whole.slice(0, 3);
    const seen: number[] = [];
    const done: number[] = [];
    const rest = await perplexity(tokens, scorer(seen), {
      seqLen: 4,
      windowsPerPass: 2,
      finished,
      onWindow: (p) => done.push(p.done),
    });
    // Windows 4–7 only: the finished ones are neither scored nor reported again.
    expect(seen).toEqual([12, 16, 20, 24].map((t) => tokens[t]));
    expect(done).toEqual([4, 5, 6, 7]);
    expect(rest.windowPpl).toEqual(first.windowPpl);
    expect(rest.meanNll).toBe(first.meanNll);
    expect(rest.ppl).toBe(first.ppl);
    await expect(
      perplexity(tokens, scorer([]), { seqLen: 4, finished: [...whole, ...whole] }),
    ).rejects.toThrow(/14 windows are finished, but the text has only 7/);
  });
});
