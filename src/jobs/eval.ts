// An evaluation, whoever hosts it (the studio's worker, the CLI): the settings checked before the
// text is read, the text cut into windows, the model's perplexity window by window with a known
// total, and the parts of a run record. The host supplies the GPU runtime, the model (one already on
// a device, or the weights to upload), the text's tokens and where the events go; the worker sends
// them to the page, the CLI prints and records them.
//
// A lost device does not end the evaluation. Every window's score (its NLL sum and token count) is
// kept on the host as it comes back; when the device goes, the job asks the host for a new runtime,
// uploads the model to it (a model loaded on the old device died with it) and continues at the first
// window not yet finished. The scores are summed in window order whatever device scored them, and a
// window's score does not depend on the pass it is in (model/batch.ts), so the perplexity is an
// uninterrupted run's bit for bit. After MAX_RESUMES losses the job gives up, as pruning does.
//
// Running out of GPU memory does not end it at once either. The model's pass workspace is freed (a
// copy the job uploaded itself is dropped and uploaded again streamed block by block), and the
// windows are scored again from the first, one window per pass, after a 'degraded' event: the same
// perplexity bit for bit, for the same reason. A model the host loaded stays as it was loaded:
// streaming it would mean dropping resident weights the host's other work uses, and a streamed copy
// beside them takes more memory, not less. A second failure ends the evaluation (EvalOutOfMemoryError).

import { GpuOutOfMemoryError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { EVAL_TEXTS, type EvalText, evaluatePerplexity } from '../model/evaluate';
import { type FitReport, fitCheck, passBytes } from '../model/fit';
import { GpuModel, type LoadProgress, type Residency } from '../model/gpuModel';
import {
  type PerplexityProgress,
  type PerplexityResult,
  perplexity,
  type WindowScore,
  type WindowScorer,
} from '../model/perplexity';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import type { WeightSource } from '../model/weights';
import { counterResults, nllPerWindow } from '../run/build';
import type { MetricSeries, RunRecord } from '../run/record';
import { deviceLost, liveRuntime, MAX_RESUMES } from './device';
import { type EvalJobOptions, EvalOptionsError, evalProblems } from './evalOptions';

/** Out of memory a second time, with one window per pass. */
export class EvalOutOfMemoryError extends Error {
  override name = 'EvalOutOfMemoryError';
  constructor(override readonly cause: GpuOutOfMemoryError) {
    super(`${cause.message} (again with one window per pass)`);
  }
}

/** What the job reports as it goes; the host forwards or prints it. */
export type EvalJobProgress =
  /** The text is cut into windows: `total` of them will be scored. */
  | { type: 'started'; text: EvalText; label: string; seqLen: number; total: number; tokensInText: number }
  | ({ type: 'window' } & PerplexityProgress)
  /** The GPU's memory ran out (message: what failed); the windows are scored again from the first, one per pass. */
  | { type: 'degraded'; message: string }
  /** The device was lost; a new one was acquired and scoring continues after window `done`. */
  | { type: 'resumed'; done: number; attempt: number; message: string };

export interface EvalJobHost {
  /** The runtime now: the same one while its device lives, a new one after it is lost. */
  acquire: () => Promise<GpuRuntime>;
  /** The model's weights, uploaded to a device that holds no copy of them. */
  source: WeightSource;
  /** The model already on a device (the studio's loaded model), used while that device lives; never destroyed by the job. */
  loaded?: GpuModel;
  /**
   * The GPU memory the evaluation may take (WebGPU does not report it): the model must fit it with
   * windows of this length, and what the weights leave sizes the passes. Without it, no fit check
   * and the engine's default passes.
   */
  budgetBytes?: number;
  /** The sparse format an uploaded copy keeps its block matrices in (as the loaded model's, when there is one). */
  compress?: SparseExportFormat;
  onUpload?: (progress: LoadProgress) => void;
  /**
   * Scores the windows without a GPU (the CLI's float64 reference forward): no device is asked for,
   * and a failure is not a lost device.
   */
  score?: WindowScorer;
  /** The text's tokens (tokenized as evaluate.ts tokenizeEvalText does); asked for once the settings are good. */
  tokens: () => Promise<number[]>;
  /** Keeps passes near this many milliseconds, for a prompt cancel. */
  passMs?: number;
  gpuTime?: boolean;
  onProgress: (event: EvalJobProgress) => void;
  signal?: AbortSignal;
  /** Wraps a stage so a host can time it ('upload', 'evaluation'). */
  phase?: <T>(name: string, body: () => Promise<T>) => Promise<T>;
}

/**
 * The perplexity of every window; after a lost device, windowsPerPass and the counters are those of
 * the device that scored the last windows (the lost one's passes never reported back).
 */
export interface EvalJobResult extends PerplexityResult {
  text: EvalText;
  label: string;
  /** Wall time of the scoring, with the uploads of the job's own copies of the model (after a lost device, say). */
  ms: number;
  tokensPerSecond: number;
}

export class EvalJob {
  /** Lost devices the job has survived so far. */
  resumes = 0;
  /** Set once the memory ran out: every pass is one window from then on. */
  lean = false;
  /** Windows the run will score (known once the text is read; 0 before). */
  total = 0;
  /** How the model that scored the latest windows was held; null before one was. */
  residency: Residency | null = null;
  private readonly finished: WindowScore[] = [];

  constructor(
    private readonly host: EvalJobHost,
    readonly options: EvalJobOptions,
  ) {}

  /** Windows finished so far. */
  get done(): number {
    return this.finished.length;
  }

  /** Every finished window's NLL sum and prediction count, in window order. */
  get scores(): readonly WindowScore[] {
    return this.finished;
  }

  async run(): Promise<EvalJobResult> {
    const { host, options } = this;
    const { text, seqLen, maxWindows } = options;
    // Settings first: a bad one is reported before a device is asked for or the text is read.
    const problems = evalProblems(options, host.source.config);
    if (Object.keys(problems).length) throw new EvalOptionsError(problems);
    const rt = host.score ? null : await host.acquire();
    const fit = rt && this.fit(rt);
    if (fit?.verdict === 'does not fit')
      throw new RangeError(
        `the model with windows of ${seqLen} tokens does not fit the memory budget: ${fit.reasons.join('; ')}`,
      );
    const tokens = await host.tokens();
    host.signal?.throwIfAborted();
    this.total = Math.min(Math.floor(tokens.length / seqLen), maxWindows ?? Number.POSITIVE_INFINITY);
    if (this.total === 0)
      throw new EvalOptionsError({
        seqLen: `the text has ${tokens.length} tokens, fewer than one window of ${seqLen}: use a shorter window`,
      });
    const label = EVAL_TEXTS[text].label;
    host.onProgress({ type: 'started', text, label, seqLen, total: this.total, tokensInText: tokens.length });
    const start = performance.now();
    const result = rt ? await this.onGpu(rt, tokens) : await this.onHost(tokens, host.score as WindowScorer);
    const ms = performance.now() - start;
    return { ...result, text, label, ms, tokensPerSecond: result.tokensScored / (ms / 1000) };
  }

  /** The model's fit on this device's limits with the host's budget; null without a budget. */
  private fit(rt: GpuRuntime): FitReport | null {
    const { budgetBytes, source } = this.host;
    if (budgetBytes === undefined) return null;
    return fitCheck(source.config, rt.limits, budgetBytes, this.options.seqLen, source);
  }

  /**
   * The job's own copy of the model on this device: held as the host's loaded model is, else
   * resident when it fits the budget and streamed block by block when not, and streamed once
   * memory ran out.
   */
  private upload(rt: GpuRuntime, signal: AbortSignal): Promise<GpuModel> {
    const { host } = this;
    const verdict = this.fit(rt)?.verdict ?? 'fits';
    const residency = this.lean
      ? 'streaming'
      : (host.loaded?.residency ?? (verdict === 'fits' ? 'resident' : 'streaming'));
    return this.phase('upload', () =>
      GpuModel.load(rt, host.source, {
        residency,
        compress: host.loaded ? host.loaded.compress : host.compress,
        onProgress: host.onUpload,
        signal,
      }),
    );
  }

  /** Memory a pass may take: what the budget leaves beside the weights, or one window once memory ran out. */
  private passBytes(rt: GpuRuntime, model: GpuModel): number | undefined {
    if (this.lean) return 0;
    const fit = this.fit(rt);
    return fit ? passBytes(fit, this.host.budgetBytes as number, model.residency) : undefined;
  }

  private phase<T>(name: string, body: () => Promise<T>): Promise<T> {
    return this.host.phase ? this.host.phase(name, body) : body();
  }

  /** The windows scored by the host's own scorer, window by window. */
  private onHost(tokens: number[], score: WindowScorer): Promise<PerplexityResult> {
    const { host, options } = this;
    return this.phase('evaluation', () =>
      perplexity(tokens, score, {
        ...options,
        signal: host.signal,
        onScore: (s) => this.finished.push(s),
        onWindow: (progress) => host.onProgress({ type: 'window', ...progress }),
      }),
    );
  }

  /** The windows scored on the GPU, continuing on a new device after a lost one. */
  private async onGpu(first: GpuRuntime, tokens: number[]): Promise<PerplexityResult> {
    const { host, options } = this;
    const { seqLen, maxWindows } = options;
    let rt = first;
    let model: GpuModel | null = null;
    // Whether `model` is the job's own copy (destroyed by the job) rather than the host's.
    let own = false;
    try {
      for (;;) {
        // This attempt's signal: the host's cancel, or this device's loss.
        const attempt = new AbortController();
        const onAbort = () => attempt.abort(host.signal?.reason);
        host.signal?.addEventListener('abort', onAbort);
        const current = rt;
        const stopWatching = current.onLost((error) => attempt.abort(error));
        try {
          if (!model) {
            own = !(host.loaded && host.loaded.rt === current && !current.isLost);
            model = own ? await this.upload(current, attempt.signal) : (host.loaded as GpuModel);
          }
          const scoring = model;
          this.residency = scoring.residency;
          return await this.phase('evaluation', () =>
            evaluatePerplexity(scoring, tokens, {
              seqLen,
              maxWindows,
              passBytes: this.passBytes(current, scoring),
              passMs: host.passMs,
              gpuTime: host.gpuTime,
              signal: attempt.signal,
              finished: [...this.finished],
              onScore: (score) => this.finished.push(score),
              onWindow: (progress) => host.onProgress({ type: 'window', ...progress }),
            }),
          );
        } catch (error) {
          if (error instanceof GpuOutOfMemoryError && !host.signal?.aborted) {
            // The workspace of the failed pass's shape would be reused by smaller passes: free it.
            model?.releaseWorkspace();
            if (this.lean) throw new EvalOutOfMemoryError(error);
            this.lean = true;
            if (own) {
              model?.destroy();
              model = null;
            }
            this.finished.length = 0;
            host.onProgress({ type: 'degraded', message: error.message });
            continue;
          }
          if (host.signal?.aborted || this.resumes >= MAX_RESUMES || !(await deviceLost(current, error)))
            throw error;
          this.resumes++;
          if (own) model?.destroy();
          model = null;
          rt = await liveRuntime(() => host.acquire());
          host.onProgress({
            type: 'resumed',
            done: this.finished.length,
            attempt: this.resumes,
            message: error instanceof Error ? error.message : String(error),
          });
        } finally {
          host.signal?.removeEventListener('abort', onAbort);
          stopWatching();
        }
      }
    } finally {
      if (own) model?.destroy();
    }
  }
}

/** The series and results a run record keeps of an evaluation (the CLI's record; the studio's has the same names). */
export function evalRecordParts(
  text: EvalText,
  result: PerplexityResult,
): { metrics: MetricSeries[]; results: RunRecord['results'] } {
  return {
    metrics: [nllPerWindow(result)],
    results: {
      text,
      ppl: result.ppl,
      meanNll: result.meanNll,
      windows: result.windows,
      seqLen: result.seqLen,
      tokensScored: result.tokensScored,
      tokensInText: result.tokensInText,
      windowsPerPass: result.windowsPerPass,
      ...counterResults(result.counters),
    },
  };
}
