// Perplexity of a model on one of the evaluation texts, tokenized as the papers do: WikiText-2 raw
// test joined into one string and tokenized once with a single BOS in front (as a Hugging Face
// tokenizer call adds it); TinyStories story by story, each with its BOS (llama2.c's convention),
// concatenated. Both streams are then cut into non-overlapping windows.

import { WorkMeter, withGpuClock } from '../gpu/meter';
import type { Tokenizer } from '../tokenizer';
import { DEFAULT_PASS_BYTES, windowsPerPass } from './batch';
import { joinWikitext, splitStories } from './datasets';
import type { GpuModel } from './gpuModel';
import {
  type PerplexityOptions,
  type PerplexityProgress,
  type PerplexityResult,
  perplexity,
} from './perplexity';

export type EvalText = 'wikitext2' | 'tinystories';

export const EVAL_TEXTS: Record<EvalText, { label: string; file: string }> = {
  wikitext2: { label: 'WikiText-2 (raw test)', file: 'data/wikitext-2/wiki.test.raw' },
  tinystories: { label: 'TinyStories (validation sample)', file: 'data/tinystories/valid-sample.txt' },
};

export function tokenizeEvalText(kind: EvalText, raw: string, tokenizer: Tokenizer): number[] {
  if (kind === 'wikitext2') return tokenizer.encode(joinWikitext(raw), { addBos: true });
  return splitStories(raw).flatMap((story) => tokenizer.encode(story, { addBos: true }));
}

export interface EvaluateOptions {
  seqLen: number;
  maxWindows?: number;
  /** Windows per pass; default sized by windowsPerPass from passBytes and the device's limits. */
  windowsPerPass?: number;
  /** Memory the activations of a pass may take (default DEFAULT_PASS_BYTES). */
  passBytes?: number;
  /** Keeps passes near this many milliseconds, for a prompt cancel (see PerplexityOptions). */
  passMs?: number;
  signal?: AbortSignal;
  onWindow?: (progress: PerplexityProgress) => void;
  /** Time the windows on the GPU's clock for the counters' gpuMs (default: on a real GPU; see withGpuClock). */
  gpuTime?: boolean;
  /** The first windows' scores, already known: scoring continues after them (see PerplexityOptions). */
  finished?: PerplexityOptions['finished'];
  onScore?: PerplexityOptions['onScore'];
}

export async function evaluatePerplexity(
  model: GpuModel,
  tokens: readonly number[],
  options: EvaluateOptions,
): Promise<PerplexityResult> {
  if (options.seqLen > model.config.maxPositions) {
    throw new RangeError(
      `sequence length ${options.seqLen} is longer than the model's context of ${model.config.maxPositions} tokens`,
    );
  }
  return withGpuClock(model.rt, options.gpuTime, async () => {
    const meter = WorkMeter.start(model.rt);
    const total = Math.min(Math.floor(tokens.length / options.seqLen), options.maxWindows ?? Infinity);
    const perPass =
      options.windowsPerPass ??
      windowsPerPass(
        model.config,
        options.seqLen,
        total,
        model.rt.limits,
        options.passBytes ?? DEFAULT_PASS_BYTES,
      );
    const result = await perplexity(tokens, (windows) => model.scoreWindows(windows), {
      ...options,
      windowsPerPass: perPass,
    });
    return { ...result, counters: await meter.read() };
  });
}
