// Text generation with a KV cache: the prompt goes through the model in one pass (prefill), which
// fills every layer's cache and gives the first new token's logits; then each new token goes
// through alone (decode), attending to the cached positions, until a stop token, a stop text or
// the token limit. One read-back per token: the last row's logits (vocab floats), sampled on the
// host (sampling.ts). That read-back cannot be avoided — the next pass needs the token it
// chooses — and at a vocabulary of 32000 it is 128 KB, so an argmax or top-k on the GPU would
// save bytes, not waits (docs/engine.md, "Generation").
//
// The studio's worker and the CLI call generate() alike; tokens stream out through onToken with
// their text and timing, and an AbortSignal stops the run between tokens with its abort reason.

import { type WorkCounters, WorkMeter } from '../gpu/meter';
import { freshSeed, Random } from '../kernels/random';
import type { Tokenizer } from '../tokenizer';
import type { GpuModel } from './gpuModel';
import { KvCache } from './kvCache';
import { checkSampling, type SamplingOptions, sampleToken } from './sampling';

export const DEFAULT_MAX_NEW_TOKENS = 64;

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most (default 64). */
  maxNewTokens?: number;
  /** Seeds the draws when sampling (default a fresh seed, reported in the result). */
  seed?: number;
  /** Token ids that end the run besides EOS (the tokenizer's, else the model config's). */
  stopIds?: readonly number[];
  /** Texts that end the run; the result's text stops before the first one. */
  stopTexts?: readonly string[];
  /**
   * Positions the KV cache may hold (default the model's context length): the prompt plus the new
   * tokens must fit, or the run is refused before it starts.
   */
  maxTokens?: number;
  /** Prepend BOS to a text prompt (default true: the language-model convention). */
  addBos?: boolean;
}

export interface TokenEvent {
  /** 0 for the first new token. */
  index: number;
  id: number;
  /**
   * Text this token completes. It may be '' while a multi-byte character or a possible stop text
   * is incomplete; the pieces of all events join into the result's text.
   */
  text: string;
  /** Time this token took (the first one includes the prefill), ms. */
  ms: number;
  elapsedMs: number;
  /** New tokens per second so far. */
  tokensPerSecond: number;
}

export type StopReason = 'stop-token' | 'stop-text' | 'max-tokens';

export interface PhaseTiming {
  /** Tokens through the model in this phase (the prompt; one per decode step). */
  tokens: number;
  ms: number;
  tokensPerSecond: number;
  /** What the phase asked of the GPU (read-backs, dispatches, …; src/gpu/meter.ts). */
  counters: WorkCounters;
}

export interface GenerateResult {
  promptIds: number[];
  /** The new token ids, a stop token included. */
  tokens: number[];
  /** The new text, up to a stop text. */
  text: string;
  stopReason: StopReason;
  seed: number;
  /** The prompt's pass, which also yields the first new token's logits. */
  prefill: PhaseTiming;
  /** One step per new token after the first (the last token needs no step of its own). */
  decode: PhaseTiming;
  /** Bytes of the KV cache the run held. */
  cacheBytes: number;
}

/**
 * Generates a continuation of `prompt` (text, or token ids as they are) with `model`. Rejects with
 * the signal's reason when aborted; the cache is freed however the run ends.
 */
export async function generate(
  model: GpuModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  options: GenerateOptions = {},
  onToken?: (event: TokenEvent) => void,
  signal?: AbortSignal,
): Promise<GenerateResult> {
  const c = model.config;
  checkSampling(options);
  const maxNew = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  if (!Number.isInteger(maxNew) || maxNew < 1) {
    throw new RangeError(`the number of new tokens must be an integer ≥ 1, got ${maxNew}`);
  }
  const limit = options.maxTokens ?? c.maxPositions;
  if (!Number.isInteger(limit) || limit < 1 || limit > c.maxPositions) {
    throw new RangeError(
      `the token limit must be an integer in 1..${c.maxPositions} (the model's context), got ${limit}`,
    );
  }
  const promptIds =
    typeof prompt === 'string' ? tokenizer.encode(prompt, { addBos: options.addBos ?? true }) : [...prompt];
  if (promptIds.length === 0) {
    throw new RangeError('the prompt has no tokens: give some text, or let it start with BOS');
  }
  if (promptIds.length + maxNew > limit) {
    throw new RangeError(
      `the prompt's ${promptIds.length} tokens and ${maxNew} new ones exceed the limit of ${limit} tokens` +
        `${limit === c.maxPositions ? " (the model's context)" : ''}: shorten the prompt or ask for fewer tokens`,
    );
  }
  const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= c.vocabSize);
  if (bad !== undefined)
    throw new RangeError(`prompt token id ${bad} is outside the vocabulary of ${c.vocabSize}`);
  const seed = options.seed ?? freshSeed();
  const random = new Random(seed);
  const eos = tokenizer.eosId ?? c.eosId ?? undefined;
  const stopIds = new Set([...(eos === undefined ? [] : [eos]), ...(options.stopIds ?? [])]);
  const stopTexts = (options.stopTexts ?? []).filter((s) => s !== '');
  // A padded embedding has rows past the tokenizer's last id: they have no text, so never draw them.
  const vocab = Math.min(c.vocabSize, tokenizer.vocabSize);
  const text = new TextPieces(tokenizer, promptIds, stopTexts);

  signal?.throwIfAborted();
  const start = performance.now();
  const cache = await KvCache.create(model.rt, c, promptIds.length + maxNew);
  try {
    const tokens: number[] = [];
    let stopReason: StopReason = 'max-tokens';
    let last = start;
    let meter = WorkMeter.start(model.rt);
    let logits = await model.extend(cache, promptIds);
    const prefillCounters = await meter.read();
    const prefillMs = performance.now() - start;
    meter = WorkMeter.start(model.rt);
    const decodeStart = performance.now();
    for (;;) {
      const id = sampleToken(logits, options, random, vocab);
      tokens.push(id);
      const cut = text.add(id);
      if (stopIds.has(id)) stopReason = 'stop-token';
      else if (cut) stopReason = 'stop-text';
      const done = stopReason !== 'max-tokens' || tokens.length === maxNew;
      const now = performance.now();
      const elapsedMs = now - start;
      onToken?.({
        index: tokens.length - 1,
        id,
        text: text.take(done),
        ms: now - last,
        elapsedMs,
        tokensPerSecond: tokens.length / (elapsedMs / 1000),
      });
      last = now;
      if (done) break;
      signal?.throwIfAborted();
      logits = await model.extend(cache, [id]);
    }
    const decodeCounters = await meter.read();
    // The loop's time after the last step is sampling and the callback: small, and counted here.
    const decodeMs = performance.now() - decodeStart;
    const steps = tokens.length - 1;
    return {
      promptIds,
      tokens,
      text: text.text,
      stopReason,
      seed,
      prefill: timing(promptIds.length, prefillMs, prefillCounters),
      decode: timing(steps, decodeMs, decodeCounters),
      cacheBytes: KvCache.bytes(c, cache.capacity),
    };
  } finally {
    cache.destroy();
  }
}

function timing(tokens: number, ms: number, counters: WorkCounters): PhaseTiming {
  return { tokens, ms, tokensPerSecond: tokens === 0 ? 0 : tokens / (ms / 1000), counters };
}

/**
 * The new text as tokens arrive, and the part of it safe to stream: a token may end inside a
 * multi-byte character (the decoder then ends in U+FFFD) or inside what could be the start of a
 * stop text, and that tail waits for the next token.
 */
class TextPieces {
  private readonly ids: number[] = [];
  private readonly promptText: string;
  /** The new text, cut before a stop text once one appears. */
  text = '';
  private streamed = 0;
  private stopped = false;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly promptIds: readonly number[],
    private readonly stopTexts: readonly string[],
  ) {
    this.promptText = tokenizer.decode([...promptIds]);
  }

  /** Adds a token; true when the text now holds a stop text (and is cut before it). */
  add(id: number): boolean {
    this.ids.push(id);
    // Decoding the prompt with the new ids keeps what a tokenizer does at the start of a sequence
    // (SentencePiece drops the space after BOS) out of the new text.
    const full = this.tokenizer.decode([...this.promptIds, ...this.ids]);
    this.text = full.startsWith(this.promptText)
      ? full.slice(this.promptText.length)
      : this.tokenizer.decode([...this.ids]);
    let cut = -1;
    for (const stop of this.stopTexts) {
      const at = this.text.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.text = this.text.slice(0, cut);
      this.stopped = true;
    }
    return this.stopped;
  }

  /** The text not streamed yet that is safe to stream; everything left when `final`. */
  take(final: boolean): string {
    let end = this.text.length;
    if (!final && !this.stopped) {
      while (end > this.streamed && this.text[end - 1] === '\uFFFD') end--;
      end -= this.stopPrefix(end);
    }
    end = Math.max(end, this.streamed);
    const piece = this.text.slice(this.streamed, end);
    this.streamed = end;
    return piece;
  }

  /** Length of the longest end of text[0..end) that begins some stop text. */
  private stopPrefix(end: number): number {
    let longest = 0;
    for (const stop of this.stopTexts) {
      for (let n = Math.min(stop.length - 1, end); n > longest; n--) {
        if (this.text.slice(end - n, end) === stop.slice(0, n)) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
