// Choosing the next token from one row of logits, on the host: greedy (the argmax), or a draw from
// softmax(logits / temperature) restricted to the k most likely tokens. Draws come from the
// project's seeded generator (kernels/random.ts), so one seed gives one sequence of tokens.

import type { Random } from '../kernels/random';

export interface SamplingOptions {
  /** 0 (the default) is greedy; above 0 the logits are divided by it before the softmax. */
  temperature?: number;
  /** Draw only among the k most likely tokens; default every token. k = 1 is greedy. */
  topK?: number;
}

/** Checks the sampling settings, with messages that name the wrong one. */
export function checkSampling(options: SamplingOptions): void {
  const t = options.temperature ?? 0;
  if (!Number.isFinite(t) || t < 0) throw new RangeError(`temperature must be a number ≥ 0, got ${t}`);
  const k = options.topK;
  if (k !== undefined && (!Number.isInteger(k) || k < 1)) {
    throw new RangeError(`top-k must be an integer ≥ 1, got ${k}`);
  }
}

/** The first index of the largest of logits[0..vocab). */
export function argmax(logits: Float32Array, vocab = logits.length): number {
  let best = 0;
  for (let i = 1; i < vocab; i++) if ((logits[i] as number) > (logits[best] as number)) best = i;
  return best;
}

/**
 * The next token among ids 0..vocab − 1 (vocab may be below the logits' width: a model's embedding
 * is often padded past its tokenizer). Greedy when the temperature is 0 or k is 1; otherwise one draw
 * of `random` picks from the top k by their probabilities, computed in float64.
 */
export function sampleToken(
  logits: Float32Array,
  options: SamplingOptions,
  random: Random,
  vocab = logits.length,
): number {
  const temperature = options.temperature ?? 0;
  const k = Math.min(options.topK ?? vocab, vocab);
  if (temperature === 0 || k === 1) return argmax(logits, vocab);
  // Ties keep the lower id first, so the candidates (and the draw) do not depend on the sort.
  const ids = Array.from({ length: vocab }, (_, i) => i);
  const candidates =
    k < vocab ? ids.sort((a, b) => (logits[b] as number) - (logits[a] as number) || a - b).slice(0, k) : ids;
  let max = Number.NEGATIVE_INFINITY;
  for (const id of candidates) max = Math.max(max, logits[id] as number);
  const weights = candidates.map((id) => Math.exp(((logits[id] as number) - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let u = random.next() * total;
  for (const [i, w] of weights.entries()) {
    u -= w;
    if (u < 0) return candidates[i] as number;
  }
  // Rounding can leave u a hair above 0 after the last weight: the draw is then the last candidate
  // that has any probability (max's own weight is 1, so there is one).
  let last = candidates.length - 1;
  while ((weights[last] as number) === 0) last--;
  return candidates[last] as number;
}
