// Perplexity by the papers' protocol: the text is tokenized once, cut into non-overlapping windows
// of the sequence length (remainder dropped), each window scored on its own (every token predicts
// the next: length − 1 predictions), and ppl = exp(total NLL / predictions). A scorer may take
// several windows per pass (a batch, scored as if one by one); progress still counts windows, with
// a known total, and the run can be cancelled between passes.

import type { WorkCounters } from '../gpu/meter';
import { windows } from './datasets';

export interface WindowScore {
  /** Sum of the next-token NLLs of the window (nats). */
  nllSum: number;
  count: number;
}

/** Scores a pass of windows, all of one length: one score per window, in order. */
export type WindowScorer = (windows: readonly (readonly number[])[]) => Promise<WindowScore[]>;

export interface PerplexityOptions {
  seqLen: number;
  /** Score only the first windows (the default scores all). */
  maxWindows?: number;
  /** Windows handed to the scorer at once (default 1); the most when passMs is given. */
  windowsPerPass?: number;
  /**
   * Keeps a pass near this many milliseconds, so a cancel takes effect soon: the first pass is one
   * window, and later ones as many (up to windowsPerPass) as the measured pace fits in passMs.
   */
  passMs?: number;
  signal?: AbortSignal;
  onWindow?: (progress: PerplexityProgress) => void;
  /**
   * The scores of the first windows, already known (a run continued after its device was lost):
   * scoring starts at the window after them, and they are summed with the rest in window order, so
   * the result is the one run's bit for bit.
   */
  finished?: readonly WindowScore[];
  /** Told of each window's score as it is known (index from 0), so a caller can keep them. */
  onScore?: (score: WindowScore, index: number) => void;
}

export interface PerplexityProgress {
  done: number;
  total: number;
  windowPpl: number;
  runningPpl: number;
  tokensScored: number;
  elapsedMs: number;
  tokensPerSecond: number;
  etaMs: number;
}

export interface PerplexityResult {
  ppl: number;
  meanNll: number;
  windows: number;
  tokensScored: number;
  seqLen: number;
  /** Tokens in the text; those past the last whole window are not scored. */
  tokensInText: number;
  windowPpl: number[];
  /** The most windows one pass held (passes may be smaller: the last one, or while passMs grows them). */
  windowsPerPass: number;
  /** What the evaluation asked of the GPU, when a GPU scored it (evaluatePerplexity). */
  counters?: WorkCounters;
}

export async function perplexity(
  tokens: readonly number[],
  score: WindowScorer,
  options: PerplexityOptions,
): Promise<PerplexityResult> {
  const parts = windows(tokens, options.seqLen, options.maxWindows);
  if (parts.length === 0) {
    throw new RangeError(
      `the text has ${tokens.length} tokens, fewer than one window of ${options.seqLen}; use a shorter sequence length`,
    );
  }
  const perPass = options.windowsPerPass ?? 1;
  if (!Number.isInteger(perPass) || perPass < 1) {
    throw new RangeError(`windows per pass must be an integer ≥ 1, got ${perPass}`);
  }
  const finished = options.finished ?? [];
  const resumedAt = finished.length;
  if (resumedAt > parts.length) {
    throw new RangeError(`${resumedAt} windows are finished, but the text has only ${parts.length}`);
  }
  const start = performance.now();
  let nll = 0;
  let count = 0;
  const windowPpl: number[] = [];
  // The finished windows are summed first and in order, as a run that never stopped sums them.
  for (const s of finished.slice(0, resumedAt)) {
    nll += s.nllSum;
    count += s.count;
    windowPpl.push(Math.exp(s.nllSum / s.count));
  }
  let size = options.passMs === undefined ? perPass : 1;
  let largest = 0;
  for (let first = resumedAt; first < parts.length; ) {
    options.signal?.throwIfAborted();
    const passStart = performance.now();
    const pass = parts.slice(first, first + size);
    const scores = await score(pass);
    largest = Math.max(largest, pass.length);
    const msPerWindow = (performance.now() - passStart) / pass.length;
    const next =
      options.passMs === undefined
        ? size
        : Math.max(1, Math.min(perPass, Math.floor(options.passMs / Math.max(msPerWindow, 1e-3))));
    if (scores.length !== pass.length) {
      throw new Error(`the scorer returned ${scores.length} scores for a pass of ${pass.length} windows`);
    }
    const elapsedMs = performance.now() - start;
    // One progress event per window, so charts keep a point per window whatever the pass size.
    for (const [offset, s] of scores.entries()) {
      const index = first + offset;
      if (!Number.isFinite(s.nllSum)) {
        throw new RangeError(
          `window ${index + 1} scored a non-finite NLL (${s.nllSum}): the model produced NaN or Inf`,
        );
      }
      nll += s.nllSum;
      count += s.count;
      windowPpl.push(Math.exp(s.nllSum / s.count));
      options.onScore?.(s, index);
      const done = index + 1;
      const tokensScored = done * options.seqLen;
      // The pace is this call's: windows finished before it took no time here.
      const scoredHere = done - resumedAt;
      options.onWindow?.({
        done,
        total: parts.length,
        windowPpl: windowPpl[index] as number,
        runningPpl: Math.exp(nll / count),
        tokensScored,
        elapsedMs,
        tokensPerSecond: (scoredHere * options.seqLen) / (elapsedMs / 1000),
        etaMs: (elapsedMs / scoredHere) * (parts.length - done),
      });
    }
    first += pass.length;
    size = next;
  }
  return {
    ppl: Math.exp(nll / count),
    meanNll: nll / count,
    windows: parts.length,
    tokensScored: parts.length * options.seqLen,
    seqLen: options.seqLen,
    tokensInText: tokens.length,
    windowPpl,
    windowsPerPass: largest,
  };
}
