// Perplexity of the loaded model as a job: the text fetched and tokenized once per text and model
// (WikiText-2 is 1.3 MB, and a person reruns with other window settings), then scored window by
// window with a typed event per window, so the chart fills in as it goes and a cancel lands
// between windows.
//
// Running out of GPU memory does not end the evaluation at once: the model's pass workspace is freed
// and the windows are scored again from the first, one window per pass, after a 'degraded' event.
// A window's numbers do not depend on the pass it is scored in (model/batch.ts: the kernels treat
// the rows of a pass alike), so the perplexity is the same bit for bit. The loaded model stays as it
// was loaded: streaming it block by block would mean dropping the resident weights the studio's
// other sections use, and loading a streamed copy beside them takes more memory, not less. A second
// failure ends the evaluation with advice.

import { GpuError, GpuOutOfMemoryError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { EVAL_TEXTS, type EvalText, evaluatePerplexity, tokenizeEvalText } from '../model/evaluate';
import { passBytes } from '../model/fit';
import type { EvalEvent, EvalOptions, EvalOutcome } from './api';
import { checkFit, type LoadedModel, modelFailure, NetworkError } from './modelJob';
import { throttle } from './throttle';

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
export async function fetchEvalText(text: EvalText, siteRoot: string, fetchFn: typeof fetch = fetch) {
  const url = new URL(EVAL_TEXTS[text].file, siteRoot).href;
  let response: Response;
  try {
    response = await fetchFn(url);
  } catch (error) {
    throw new NetworkError(url, error instanceof Error ? error.message : String(error));
  }
  if (!response.ok)
    throw new NetworkError(url, `the server answered ${response.status} ${response.statusText}`);
  return response.text();
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

/** Out of memory a second time, with one window per pass. */
export class EvalOutOfMemoryError extends Error {
  override name = 'EvalOutOfMemoryError';
  constructor(override readonly cause: GpuOutOfMemoryError) {
    super(`${cause.message} (again with one window per pass)`);
  }
}

export interface EvalJob {
  rt: GpuRuntime;
  loaded: LoadedModel;
  options: EvalOptions;
  fetchText: (text: EvalText) => Promise<string>;
  emit: (event: EvalEvent) => void;
  signal: AbortSignal;
}

export async function runEvaluation(job: EvalJob): Promise<EvalOutcome> {
  const { rt, loaded, options, emit, signal } = job;
  const { text, seqLen } = options;
  const label = EVAL_TEXTS[text].label;
  const sendMemory = () => {
    const { liveBytes, peakBytes } = rt.ledger.snapshot();
    emit({ type: 'memory', liveBytes, peakBytes });
  };
  const memory = throttle(sendMemory, MEMORY_INTERVAL_MS);
  const unsubscribe = rt.ledger.subscribe(() => memory());
  let done = 0;
  let total = 0;

  let outcome: EvalOutcome;
  try {
    // The model was loaded for one window length; a longer one needs more activation memory.
    const { fit } = checkFit(
      rt,
      loaded.model.config,
      { budgetBytes: loaded.budgetBytes, seqLen },
      loaded.model.source,
    );
    if (fit.verdict === 'does not fit') {
      throw new RangeError(
        `windows of ${seqLen} tokens do not fit the memory budget: ${fit.reasons.join('; ')}`,
      );
    }
    if (
      options.maxWindows !== undefined &&
      !(Number.isInteger(options.maxWindows) && options.maxWindows >= 1)
    ) {
      throw new RangeError(`the number of windows must be a whole number ≥ 1, got ${options.maxWindows}`);
    }
    if (!loaded.tokens.has(text)) emit({ type: 'preparing', text, label });
    const tokens = await tokensFor(loaded, text, job.fetchText);
    signal.throwIfAborted();
    total = Math.min(Math.floor(tokens.length / seqLen), options.maxWindows ?? Number.POSITIVE_INFINITY);
    emit({ type: 'started', text, label, seqLen, total, tokensInText: tokens.length });
    rt.ledger.resetPeak();
    const start = performance.now();
    const evaluate = (onePerPass: boolean) =>
      evaluatePerplexity(loaded.model, tokens, {
        seqLen,
        maxWindows: options.maxWindows,
        passBytes: onePerPass ? 0 : passBytes(fit, loaded.budgetBytes, loaded.model.residency),
        passMs: CANCEL_PASS_MS,
        signal,
        onWindow: (progress) => {
          done = progress.done;
          emit({ type: 'window', ...progress });
        },
      });
    let result: Awaited<ReturnType<typeof evaluate>>;
    try {
      result = await evaluate(false);
    } catch (error) {
      if (!(error instanceof GpuOutOfMemoryError) || signal.aborted) throw error;
      // The workspace of the failed pass's shape would be reused by the smaller passes: free it.
      loaded.model.releaseWorkspace();
      done = 0;
      emit({ type: 'degraded', message: error.message });
      try {
        result = await evaluate(true);
      } catch (again) {
        if (!(again instanceof GpuOutOfMemoryError)) throw again;
        loaded.model.releaseWorkspace();
        throw new EvalOutOfMemoryError(again);
      }
    }
    const ms = performance.now() - start;
    outcome = {
      type: 'finished',
      result: { ...result, text, label, ms, tokensPerSecond: result.tokensScored / (ms / 1000) },
    };
  } catch (error) {
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (signal.aborted && !(reason instanceof GpuError)) outcome = { type: 'cancelled', done, total };
    else if (reason instanceof EvalOutOfMemoryError)
      outcome = { type: 'error', kind: 'out-of-memory', message: reason.message, advice: EVAL_MEMORY_ADVICE };
    else {
      const { kind, message, advice } = modelFailure(reason);
      outcome = { type: 'error', kind, message, advice };
    }
  } finally {
    unsubscribe();
    memory.cancel();
  }
  sendMemory();
  emit(outcome);
  return outcome;
}
