// Perplexity of the loaded model as the worker's job: the host-neutral evaluation (src/jobs/eval.ts)
// with the loaded model, the text fetched and tokenized once per text and model (WikiText-2 is 1.3 MB,
// and a person reruns with other window settings), its events sent to the page (so the chart fills
// in as it goes), the memory the ledger holds streamed alongside, and a cancel that lands between
// windows. Out of memory the job scores the windows again one per pass; after a lost device it
// continues on a new one from the first window not yet finished (the loaded model is gone with the
// old device: the job uploads its own copy, as the model was loaded).

import { GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { EvalOutOfMemoryError, EvalJob as HostNeutralJob } from '../jobs/eval';
import type { LoadedModel } from '../jobs/load';
import { modelFailure } from '../jobs/loadFailure';
import { siteFiles } from '../jobs/siteFiles';
import { throttle } from '../jobs/throttle';
import { EVAL_TEXTS, type EvalText, tokenizeEvalText } from '../model/evaluate';
import type { EvalEvent, EvalOptions, EvalOutcome } from './api';
import { watchRuntime } from './watchedRuntime';

/**
 * Evaluation passes in the studio last about this long (perplexity.ts's passMs), so Cancel takes
 * effect within about a second however many windows a pass could hold.
 */
export const CANCEL_PASS_MS = 1000;

const MEMORY_INTERVAL_MS = 250;

/** What to do when even one window per pass does not fit. */
export const EVAL_MEMORY_ADVICE =
  'The evaluation ran out of GPU memory even with one window per pass. Use shorter windows, close other ' +
  'GPU-heavy tabs or programs, or load the model again with a smaller memory budget so that it is streamed ' +
  'block by block.';

/** The raw text, from the site's public folder (siteRoot is where the studio is served from). */
export function fetchEvalText(
  text: EvalText,
  siteRoot: string,
  fetchFn: typeof fetch = fetch,
): Promise<string> {
  return siteFiles(siteRoot, fetchFn).text(EVAL_TEXTS[text].file);
}

/** The text's tokens under the loaded model's tokenizer, tokenized on first use. */
export async function tokensFor(
  loaded: LoadedModel,
  text: EvalText,
  fetchText: (text: EvalText) => Promise<string>,
): Promise<number[]> {
  const cached = loaded.tokens.get(text);
  if (cached) return cached;
  const tokens = tokenizeEvalText(text, await fetchText(text), loaded.tokenizer);
  loaded.tokens.set(text, tokens);
  return tokens;
}

export interface EvalJob {
  /** The runtime now: the one the model was loaded on, or a new one once that device is lost. */
  acquire: () => Promise<GpuRuntime>;
  loaded: LoadedModel;
  options: EvalOptions;
  fetchText: (text: EvalText) => Promise<string>;
  emit: (event: EvalEvent) => void;
  signal: AbortSignal;
}

export async function runEvaluation(job: EvalJob): Promise<EvalOutcome> {
  const { loaded, options, emit, signal } = job;
  const { model, budgetBytes } = loaded;
  const sendMemory = () => {
    const { liveBytes, peakBytes } = runtime.rt.ledger.snapshot();
    emit({ type: 'memory', liveBytes, peakBytes });
  };
  const memory = throttle(sendMemory, MEMORY_INTERVAL_MS);
  const runtime = watchRuntime(
    model.rt,
    () => job.acquire(),
    () => memory(),
  );
  const evaluation = new HostNeutralJob(
    {
      // The memory shown follows the runtime the job gets.
      acquire: async () => {
        const next = await runtime.acquire();
        next.ledger.resetPeak();
        return next;
      },
      source: model.source,
      loaded: model,
      // The model was loaded for one window length; a longer one needs more activation memory.
      budgetBytes,
      tokens: () => {
        if (!loaded.tokens.has(options.text))
          emit({ type: 'preparing', text: options.text, label: EVAL_TEXTS[options.text].label });
        return tokensFor(loaded, options.text, job.fetchText);
      },
      passMs: CANCEL_PASS_MS,
      onProgress: emit,
      signal,
    },
    options,
  );

  let outcome: EvalOutcome;
  try {
    outcome = { type: 'finished', result: await evaluation.run() };
  } catch (error) {
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (signal.aborted && !(reason instanceof GpuError))
      outcome = { type: 'cancelled', done: evaluation.done, total: evaluation.total };
    else if (reason instanceof EvalOutOfMemoryError)
      outcome = { type: 'error', kind: 'out-of-memory', message: reason.message, advice: EVAL_MEMORY_ADVICE };
    else {
      const { kind, message, advice } = modelFailure(reason);
      outcome = { type: 'error', kind, message, advice };
    }
  } finally {
    runtime.stop();
    memory.cancel();
  }
  sendMemory();
  emit(outcome);
  return outcome;
}
