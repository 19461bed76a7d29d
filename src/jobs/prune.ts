// A pruning job, whoever hosts it (the studio's worker, the CLI): the settings checked before any
// work, calibration windows sampled from a text, perplexity before and after on the same windows,
// and the engine's block-by-block run in between. The host supplies the GPU runtime, the texts and
// where the events go; the worker batches them for the UI, the CLI prints them and records them.
//
// A lost device does not end the job. The engine raises PruneInterruptedError with everything up to
// the last finished block; the host is asked for a new runtime and the run continues from there,
// and the host is told which block it resumed at. The perplexity passes are repeated on the new
// device the same way (a model loaded on the old device died with it, so it is uploaded again from
// its files). After MAX_RESUMES losses the job gives up: a device lost again and again is not a
// transient.
//
// Out of memory does not end the job either, once: the stage that ran out is run again with the
// least memory the job can work in (one window per pass, the pruned model streamed block by block),
// and the host is told so; a second failure ends the job with the allocator's advice.

import { GpuDeviceLostError, GpuOutOfMemoryError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { EVAL_TEXTS, type EvalText, evaluatePerplexity } from '../model/evaluate';
import { GpuModel, type Residency } from '../model/gpuModel';
import type { WeightSource } from '../model/weights';
import { CALIBRATION_TEXTS, sampleCalibration } from '../prune/calibration';
import type { PruneEvent } from '../prune/events';
import {
  checkOptionsFit,
  type PruneCheckpoint,
  PruneInterruptedError,
  type PruneOutput,
  prunedWeightSource,
  pruneModel,
  pruneWindowsPerPass,
} from '../prune/job';
import { pruneMemoryPlan } from '../prune/memoryPlan';
import type { PruneOptions } from '../prune/options';
import { canSplitBlocks, joinPruneOutputs, splitBlocks } from '../prune/parallel';
import type { PrunedTensors } from '../prune/prunedTensors';
import type { Tokenizer } from '../tokenizer';
import { liveRuntime, MAX_RESUMES } from './device';

export type PruneStage = 'calibration' | 'before' | 'prune' | 'after';

export interface Perplexity {
  ppl: number;
  windows: number;
}

/** Perplexity before and after, on these texts' first windows (all of them without maxWindows). */
export interface PruneEvaluation {
  texts: EvalText[];
  seqLen: number;
  maxWindows?: number;
  /** Measure the dense model too (skip it when its number is already known). */
  before: boolean;
}

export interface PlannedMemory {
  gpuPeakBytes: number;
  /** What the run is doing at that peak ('down: FISTA'). */
  gpuPeakPhase: string;
  /** What the host holds at the end: with the finished blocks' matrices in memory, or one block's when they are kept elsewhere. */
  hostBytes: number;
  /** Whether the finished blocks' matrices are kept elsewhere (PruneJobHost.prunedTensors): a file store, not memory. */
  prunedElsewhere: boolean;
  windowsPerPass: number;
}

/** The job's own progress; the engine's events go to the host's onEngineEvent. */
export type PruneJobProgress =
  /** The calibration text is read, tokenized and sampled. */
  | { type: 'calibrating'; label: string }
  | {
      type: 'calibrated';
      label: string;
      windows: number;
      seqLen: number;
      tokens: number;
      /** What the pruning stage will hold at its peak (memoryPlan.ts), on the GPU and on the host. */
      plan: PlannedMemory;
    }
  /** A perplexity pass on the dense model ('before') or the pruned one ('after'); cached: measured earlier on the same windows. */
  | {
      type: 'perplexity-started';
      stage: 'before' | 'after';
      text: EvalText;
      label: string;
      seqLen: number;
      total: number;
      cached: boolean;
    }
  | {
      type: 'perplexity-window';
      stage: 'before' | 'after';
      text: EvalText;
      done: number;
      total: number;
      runningPpl: number;
    }
  | {
      type: 'perplexity-finished';
      stage: 'before' | 'after';
      text: EvalText;
      ppl: number;
      windows: number;
      cached: boolean;
    }
  /** A stage ran out of GPU memory and runs again with one window per pass and a streamed model. */
  | { type: 'degraded'; stage: PruneStage; message: string }
  /** The device was lost; a new one was acquired and the job continues (at block `block` when pruning). */
  | {
      type: 'resumed';
      stage: PruneStage;
      block: number | null;
      blocksKept: number;
      attempt: number;
      message: string;
    };

export interface PruneJobHost {
  source: WeightSource;
  tokenizer: Tokenizer;
  /**
   * The runtime now: the same one while its device lives, a new one after it is lost. With
   * `devices` above 1, `slot` names which device (0 is the one every other stage uses).
   */
  acquire: (slot?: number) => Promise<GpuRuntime>;
  /**
   * Devices to prune on at once (default 1). FISTAPruner's blocks (dense block inputs) are then
   * split into that many ranges, each pruned on its own device (prune/parallel.ts); the result is
   * the one-device result, bit for bit.
   */
  devices?: number;
  /**
   * A new store for finished blocks' pruned matrices (prune/prunedTensors.ts), one per range of
   * blocks and one for the joined result; default: in memory. The memory plan's host bytes follow.
   * It may take time to make (the studio opens a file in the browser's private file system).
   */
  prunedTensors?: () => PrunedTensors | Promise<PrunedTensors>;
  /**
   * Whether this run uses prunedTensors, asked once the plan knows the host bytes the run would
   * hold with every pruned matrix in memory (the studio: the person's setting, or too much of the
   * device's memory). Default: whenever prunedTensors is given.
   */
  keepPrunedElsewhere?: (hostBytesInMemory: number) => boolean;
  /** A built-in calibration text's raw contents. */
  readCalibration: (kind: keyof typeof CALIBRATION_TEXTS) => Promise<string>;
  /** An evaluation text's tokens (tokenized as evaluate.ts tokenizeEvalText does). */
  evalTokens: (text: EvalText) => Promise<number[]>;
  onProgress: (event: PruneJobProgress) => void;
  onEngineEvent: (event: PruneEvent) => void;
  signal?: AbortSignal;
  /** The dense model already on a device (the studio's loaded model), used while that device lives. */
  loaded?: { rt: GpuRuntime; model: GpuModel };
  /** Dense perplexities measured earlier, by evaluation setting; the job reads and fills it. */
  denseCache?: Map<string, Perplexity>;
  /** Checks what the host knows and the job does not (the studio's memory budget), after the settings. */
  check?: (rt: GpuRuntime) => void;
  /**
   * Checks the memory plan before any block is pruned (the studio: whether `devices` blocks' peaks
   * fit its budget); throws to stop the run.
   */
  checkPlan?: (plan: PlannedMemory) => void;
  /** Memory a batched pass may take (evaluation and pruning); the engine's default without it. */
  passBytes?: (rt: GpuRuntime) => number;
  /** Keeps perplexity passes near this many milliseconds, for a prompt cancel. */
  passMs?: number;
  /** How the pruned model is held while it is evaluated (default resident). */
  afterResidency?: Residency;
  gpuTime?: boolean;
  /** Wraps each stage, so a host can time it ('calibration', 'evaluation before', 'pruning', 'evaluation after'). */
  phase?: <T>(name: string, body: () => Promise<T>) => Promise<T>;
}

export interface PruneJobResult extends PruneOutput {
  /** The model with the pruned tensors in place (in the checkpoint's dtypes). */
  pruned: WeightSource;
  calibration: { label: string; windows: number; seqLen: number };
  before: Partial<Record<EvalText, Perplexity>>;
  after: Partial<Record<EvalText, Perplexity>>;
}

/** The key of a dense perplexity in PruneJobHost.denseCache. */
export function densePerplexityKey(text: EvalText, seqLen: number, maxWindows?: number): string {
  return `${text}|${seqLen}|${maxWindows ?? 'all'}`;
}

export class PruneJob {
  /** Where the job is: a cancel or an error is reported against this stage. */
  stage: PruneStage = 'calibration';
  /** Lost devices the job has survived so far. */
  resumes = 0;
  /** Set once a stage ran out of memory: every pass is one window from then on. */
  lean = false;
  private rt: GpuRuntime | undefined;
  /** The host's store factory once the plan chose it; the engine's maps otherwise. */
  private newStore: PruneJobHost['prunedTensors'];

  constructor(
    private readonly host: PruneJobHost,
    private readonly options: PruneOptions,
    private readonly evaluation: PruneEvaluation | null,
  ) {}

  async run(): Promise<PruneJobResult> {
    const { host, options, evaluation } = this;
    const signal = host.signal;
    const phase = host.phase ?? ((_name, body) => body());
    this.rt = await host.acquire();
    // Settings first: a bad one is reported before any text is read or any window scored.
    checkOptionsFit(options, host.source.config);
    host.check?.(this.rt);

    const cal = options.calibration;
    const label = cal.source.kind === 'text' ? cal.source.label : CALIBRATION_TEXTS[cal.source.kind].label;
    host.onProgress({ type: 'calibrating', label });
    const calibration = await phase('calibration', async () => {
      const raw = cal.source.kind === 'text' ? cal.source.text : await host.readCalibration(cal.source.kind);
      signal?.throwIfAborted();
      return sampleCalibration(cal.source, raw, host.tokenizer, cal);
    });
    const calibrated = { label, windows: calibration.length, seqLen: cal.seqLen };
    const perPass = pruneWindowsPerPass(
      host.source.config,
      cal.seqLen,
      calibration.length,
      this.rt.limits,
      this.passBytes(this.rt),
    );
    const memory = pruneMemoryPlan(host.source.config, options, {
      seqLen: cal.seqLen,
      windows: calibration.length,
      perPass,
    });
    const elsewhere =
      host.prunedTensors !== undefined && (host.keepPrunedElsewhere?.(memory.hostBytes) ?? true);
    this.newStore = elsewhere ? host.prunedTensors : undefined;
    const plan: PlannedMemory = {
      gpuPeakBytes: memory.peak.bytes,
      gpuPeakPhase: memory.peak.phase,
      hostBytes: elsewhere ? memory.hostBytesPrunedElsewhere : memory.hostBytes,
      prunedElsewhere: elsewhere,
      windowsPerPass: perPass,
    };
    host.checkPlan?.(plan);
    host.onProgress({ type: 'calibrated', ...calibrated, tokens: calibration.length * cal.seqLen, plan });

    this.stage = 'before';
    const tokens = new Map<EvalText, number[]>();
    for (const text of evaluation?.texts ?? []) {
      tokens.set(text, await host.evalTokens(text));
      signal?.throwIfAborted();
    }
    const before =
      evaluation?.before && tokens.size
        ? await phase('evaluation before', () =>
            this.leanOnOom(() => this.perplexities('before', host.source, tokens)),
          )
        : {};

    this.stage = 'prune';
    let checkpoint: PruneCheckpoint | undefined;
    const targets = options.blocks ?? Array.from({ length: host.source.config.layers }, (_, l) => l);
    const ranges = canSplitBlocks(options)
      ? splitBlocks(
          [...new Set(targets)].sort((a, b) => a - b),
          host.devices ?? 1,
        )
      : [];
    // One store for a one-device run, kept across resumes; a run on several makes its own per range.
    const tensors = ranges.length > 1 ? undefined : await this.newStore?.();
    const output = await phase('pruning', () =>
      this.leanOnOom(() =>
        ranges.length > 1
          ? this.pruneRanges(calibration, ranges)
          : this.onDevice(
              (rt, stepSignal) =>
                pruneModel({
                  rt,
                  source: host.source,
                  calibration,
                  options,
                  emit: host.onEngineEvent,
                  signal: stepSignal,
                  checkpoint,
                  gpuTime: host.gpuTime,
                  passBytes: this.passBytes(rt),
                  tensors,
                }),
              (error) => {
                if (error instanceof PruneInterruptedError) checkpoint = error.checkpoint;
                return { block: checkpoint?.layer ?? 0, blocksKept: checkpoint?.blocks.length ?? 0 };
              },
            ),
      ),
    );

    this.stage = 'after';
    const pruned = prunedWeightSource(host.source, output.tensors);
    const after = tokens.size
      ? await phase('evaluation after', () =>
          this.leanOnOom(() => this.perplexities('after', pruned, tokens)),
        )
      : {};
    return { ...output, pruned, calibration: calibrated, before, after };
  }

  /**
   * Each range of blocks pruned on its own device, all at once, and joined. A lost device costs its
   * range the block in progress: that range continues on a new device from its last finished
   * block, as a one-device run does. The first other failure stops every range.
   */
  private async pruneRanges(calibration: number[][], ranges: number[][]): Promise<PruneOutput> {
    const { host, options } = this;
    const all = new AbortController();
    const onAbort = () => all.abort(host.signal?.reason);
    host.signal?.addEventListener('abort', onAbort);
    // One 'started' for the whole run, as a one-device run emits; each range's own is dropped.
    let started = false;
    const emit = (event: PruneEvent) => {
      if (event.type !== 'started') host.onEngineEvent(event);
      else if (!started) {
        started = true;
        host.onEngineEvent({ ...event, blocks: ranges.flat() });
      }
    };
    const pruneRange = async (blocks: number[], slot: number): Promise<PruneOutput> => {
      let checkpoint: PruneCheckpoint | undefined;
      const tensors = await this.newStore?.();
      for (;;) {
        const rt = await liveRuntime(() => host.acquire(slot));
        // This range's own signal: the run's stop, or this device's loss.
        const attempt = new AbortController();
        const onStop = () => attempt.abort(all.signal.reason);
        all.signal.addEventListener('abort', onStop);
        const stopWatching = rt.onLost((error) => attempt.abort(error));
        try {
          return await pruneModel({
            rt,
            source: host.source,
            calibration,
            options: { ...options, blocks },
            emit,
            signal: attempt.signal,
            checkpoint,
            gpuTime: host.gpuTime,
            passBytes: this.passBytes(rt),
            tensors,
          });
        } catch (error) {
          const lost =
            error instanceof PruneInterruptedError || error instanceof GpuDeviceLostError || rt.isLost;
          if (!lost || all.signal.aborted || this.resumes >= MAX_RESUMES) throw error;
          this.resumes++;
          if (error instanceof PruneInterruptedError) checkpoint = error.checkpoint;
          const cause = error instanceof PruneInterruptedError ? error.cause : error;
          host.onProgress({
            type: 'resumed',
            stage: this.stage,
            block: checkpoint?.layer ?? blocks[0] ?? 0,
            blocksKept: checkpoint?.blocks.length ?? 0,
            attempt: this.resumes,
            message: cause instanceof Error ? cause.message : String(cause),
          });
        } finally {
          all.signal.removeEventListener('abort', onStop);
          stopWatching();
        }
      }
    };
    try {
      const settled = await Promise.allSettled(
        ranges.map((blocks, slot) =>
          pruneRange(blocks, slot).catch((error) => {
            all.abort(error);
            throw error;
          }),
        ),
      );
      // The first failure (the abort's reason) is the cause; the others are the aborts it set off.
      if (settled.some((r) => r.status === 'rejected')) throw all.signal.reason;
      return joinPruneOutputs(
        options,
        settled.map((r) => (r as PromiseFulfilledResult<PruneOutput>).value),
        await this.newStore?.(),
      );
    } finally {
      host.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Memory a pass may take: the host's choice, or none beyond one window once memory ran out. */
  private passBytes(rt: GpuRuntime): number | undefined {
    return this.lean ? 0 : this.host.passBytes?.(rt);
  }

  /** Runs a stage; if it runs out of memory, says so and runs it once more with the least memory. */
  private async leanOnOom<T>(stage: () => Promise<T>): Promise<T> {
    try {
      return await stage();
    } catch (error) {
      if (!(error instanceof GpuOutOfMemoryError) || this.lean || this.host.signal?.aborted) throw error;
      this.lean = true;
      this.host.onProgress({ type: 'degraded', stage: this.stage, message: error.message });
      return stage();
    }
  }

  /**
   * Runs one step on the current device. If the device is lost meanwhile, acquires a new one and
   * runs the step again (onLost first updates what the step continues from).
   */
  private async onDevice<T>(
    body: (rt: GpuRuntime, signal: AbortSignal) => Promise<T>,
    onLost: (error: unknown) => { block: number | null; blocksKept: number } = () => ({
      block: null,
      blocksKept: 0,
    }),
  ): Promise<T> {
    const signal = this.host.signal;
    for (;;) {
      signal?.throwIfAborted();
      const rt = this.rt as GpuRuntime;
      // The step's own signal: the person's cancel, or this device's loss.
      const attempt = new AbortController();
      const onAbort = () => attempt.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort);
      const stopWatching = rt.onLost((error) => attempt.abort(error));
      try {
        return await body(rt, attempt.signal);
      } catch (error) {
        const lost =
          error instanceof PruneInterruptedError || error instanceof GpuDeviceLostError || rt.isLost;
        if (!lost || signal?.aborted || this.resumes >= MAX_RESUMES) throw error;
        this.resumes++;
        const where = onLost(error);
        this.rt = await liveRuntime(() => this.host.acquire());
        const cause = error instanceof PruneInterruptedError ? error.cause : error;
        this.host.onProgress({
          type: 'resumed',
          stage: this.stage,
          ...where,
          attempt: this.resumes,
          message: cause instanceof Error ? cause.message : String(cause),
        });
      } finally {
        signal?.removeEventListener('abort', onAbort);
        stopWatching();
      }
    }
  }

  private async perplexities(
    stage: 'before' | 'after',
    source: WeightSource,
    tokens: Map<EvalText, number[]>,
  ): Promise<Partial<Record<EvalText, Perplexity>>> {
    const { host } = this;
    const e = this.evaluation as PruneEvaluation;
    const out: Partial<Record<EvalText, Perplexity>> = {};
    const toMeasure = new Map<EvalText, number[]>();
    for (const [text, ids] of tokens) {
      const key = densePerplexityKey(text, e.seqLen, e.maxWindows);
      const cached = stage === 'before' ? host.denseCache?.get(key) : undefined;
      if (!cached) {
        toMeasure.set(text, ids);
        continue;
      }
      const started = { stage, text, label: EVAL_TEXTS[text].label, seqLen: e.seqLen };
      host.onProgress({ type: 'perplexity-started', ...started, total: cached.windows, cached: true });
      host.onProgress({ type: 'perplexity-finished', stage, text, ...cached, cached: true });
      out[text] = cached;
    }
    if (toMeasure.size === 0) return out;
    const measured = await this.onDevice(async (rt, signal) => {
      // The loaded dense model serves while its device lives; anything else is uploaded for the pass.
      const loaded = host.loaded;
      const own = stage === 'before' && loaded !== undefined && loaded.rt === rt && !rt.isLost;
      const model = own
        ? loaded.model
        : await GpuModel.load(rt, source, {
            residency: this.lean ? 'streaming' : stage === 'after' ? host.afterResidency : undefined,
            signal,
          });
      try {
        const results: Partial<Record<EvalText, Perplexity>> = {};
        for (const [text, ids] of toMeasure)
          results[text] = await this.score(rt, model, stage, text, ids, signal);
        return results;
      } finally {
        if (!own) model.destroy();
      }
    });
    for (const [text, result] of Object.entries(measured) as [EvalText, Perplexity][]) {
      if (stage === 'before') host.denseCache?.set(densePerplexityKey(text, e.seqLen, e.maxWindows), result);
      host.onProgress({ type: 'perplexity-finished', stage, text, ...result, cached: false });
      out[text] = result;
    }
    return out;
  }

  private async score(
    rt: GpuRuntime,
    model: GpuModel,
    stage: 'before' | 'after',
    text: EvalText,
    tokens: number[],
    signal: AbortSignal,
  ): Promise<Perplexity> {
    const { host } = this;
    const e = this.evaluation as PruneEvaluation;
    const total = Math.min(Math.floor(tokens.length / e.seqLen), e.maxWindows ?? Number.POSITIVE_INFINITY);
    host.onProgress({
      type: 'perplexity-started',
      stage,
      text,
      label: EVAL_TEXTS[text].label,
      seqLen: e.seqLen,
      total,
      cached: false,
    });
    const result = await evaluatePerplexity(model, tokens, {
      seqLen: e.seqLen,
      maxWindows: e.maxWindows,
      passBytes: this.passBytes(rt),
      passMs: host.passMs,
      gpuTime: host.gpuTime,
      signal,
      onWindow: (p) =>
        host.onProgress({
          type: 'perplexity-window',
          stage,
          text,
          done: p.done,
          total: p.total,
          runningPpl: p.runningPpl,
        }),
    });
    return { ppl: result.ppl, windows: result.windows };
  }
}
