// A training comparison, whoever hosts it (the studio's worker, the CLI): the settings checked before
// the text is read, the text's tokens split into training and validation parts, the engine's
// TrainingJob run over every arm, a record of what each arm reported, and every arm's weights read
// back at the end. The host supplies the GPU runtime, the starting model, the tokens, and where the
// events go; the worker batches them for the page, the CLI prints and records them.
//
// A lost device does not end the run. At every validation the engine checkpoints each arm's
// weights, optimizer state and record on the host (train/job.ts TrainCheckpoint); when the device
// goes, the job asks the host for a new runtime, rebuilds every arm from that checkpoint and
// continues at its step, and tells the host which step that is. The batches and the learning rate
// depend on the step alone, and the optimizer state is an exact copy, so the continued run takes the
// steps the uninterrupted one would have. After MAX_RESUMES losses the job gives up, as pruning does.
//
// Running out of GPU memory does not end the run at once either. The job frees everything the engine
// held (the step in progress included: its activations, gradients and scratch), tells the host
// ('degraded'), and continues from the last checkpoint with one arm at a time on the GPU (the
// engine's residency 'one-at-a-time', train/job.ts), which takes the same steps bit for bit. It starts
// from the checkpoint and not the failed step because an allocation can fail inside the optimizer's
// step, after it updated some of the parameters. A second time ends the run with the engine's advice.

import { GpuOutOfMemoryError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import type { ModelConfig } from '../model/config';
import { type DataSplit, splitTokens } from '../train/data';
import {
  type ArmResidency,
  checkTrainOptions,
  type TrainCheckpoint,
  type TrainEvent,
  TrainingJob,
  type TrainOptions,
  TrainOutOfMemoryError,
  type TrainSummary,
} from '../train/job';
import { deviceLost, liveRuntime, MAX_RESUMES } from './device';
import { TrainRecord } from './trainRecord';

/** The job's own progress; the engine's events go to the host's onEngineEvent. */
export type TrainJobProgress =
  /** The tokens are split: the training part and the held-out tail. */
  | { type: 'prepared'; trainTokens: number; validationTokens: number }
  /** The device was lost; a new one was acquired and the run continues after step `step`. */
  | { type: 'resumed'; step: number; attempt: number; message: string }
  /**
   * The GPU's memory ran out (message: what failed); the run continues after step `step` with one
   * arm at a time on the GPU.
   */
  | { type: 'degraded'; step: number; message: string };

export interface TrainJobHost {
  /** The runtime now: the same one while its device lives, a new one after it is lost. */
  acquire: () => Promise<GpuRuntime>;
  /** The text's tokens; asked for once the settings are known to be good. */
  tokens: () => Promise<number[]>;
  onProgress: (event: TrainJobProgress) => void;
  onEngineEvent: (event: TrainEvent) => void;
  signal?: AbortSignal;
  /** Awaited between steps (the studio's pause). */
  pause?: () => Promise<void>;
  gpuTime?: boolean;
  /** Told of each engine job as it is made, a new one after a lost device (the studio inspects it). */
  onEngine?: (engine: TrainingJob) => void;
  /** Wraps a stage so a host can time it ('training', 'read-back'). */
  phase?: <T>(name: string, body: () => Promise<T>) => Promise<T>;
}

export interface TrainJobInput {
  config: ModelConfig;
  /** The starting weights of every arm. */
  start: Map<string, Float32Array>;
  options: TrainOptions;
  /** The fraction of the text's tail held out for validation. */
  validationFraction: number;
}

export interface TrainJobResult {
  summary: TrainSummary;
  /** Every arm's weights at the end (its final step's, or a stopped arm's last good step's); none when a run was cancelled before any step. */
  weights: Map<string, Map<string, Float32Array>>;
  data: DataSplit;
}

export class TrainJob {
  /** Lost devices the job has survived so far. */
  resumes = 0;
  /** Where the arms live: every one on the GPU, or one at a time after the memory ran out once. */
  residency: ArmResidency = 'resident';
  /** What every arm has reported, each step once (rewound to the checkpoint on a resume). */
  readonly record = new TrainRecord();
  private checkpointValue: TrainCheckpoint | null = null;

  constructor(
    private readonly host: TrainJobHost,
    private readonly input: TrainJobInput,
  ) {}

  get options(): TrainOptions {
    return this.input.options;
  }

  get config(): ModelConfig {
    return this.input.config;
  }

  /** The last validation's checkpoint (weights, optimizer state, record), or null before the first. */
  get checkpoint(): TrainCheckpoint | null {
    return this.checkpointValue;
  }

  async run(): Promise<TrainJobResult> {
    const { host, input } = this;
    const { options, config } = input;
    const phase = host.phase ?? ((_name, body) => body());
    const t0 = performance.now();
    let rt = await host.acquire();
    // Settings first: a bad one is reported before a text is fetched or tokenized.
    checkTrainOptions(options, config);
    const tokens = await host.tokens();
    host.signal?.throwIfAborted();
    const data = splitTokens(tokens, input.validationFraction, options.seqLen);
    host.onProgress({
      type: 'prepared',
      trainTokens: data.train.length,
      validationTokens: data.validation.length,
    });

    for (;;) {
      let engine: TrainingJob;
      try {
        engine = await TrainingJob.create(
          rt,
          config,
          input.start,
          data,
          options,
          this.checkpointValue,
          this.residency,
        );
      } catch (error) {
        // create() freed what it had allocated.
        if (this.degrade(error)) continue;
        throw error;
      }
      host.onEngine?.(engine);
      // The run's own signal: the host's cancel, or this device's loss (run() then stops between steps).
      const attempt = new AbortController();
      const onAbort = () => attempt.abort(host.signal?.reason);
      host.signal?.addEventListener('abort', onAbort);
      const stopWatching = rt.onLost((error) => attempt.abort(error));
      try {
        const summary = await phase('training', () =>
          engine.run({
            emit: (event) => {
              this.record.observe(event);
              host.onEngineEvent(event);
            },
            signal: attempt.signal,
            pause: host.pause,
            gpuTime: host.gpuTime,
          }),
        );
        this.checkpointValue = engine.checkpoint;
        if (attempt.signal.aborted && !host.signal?.aborted) throw attempt.signal.reason;
        // A run cancelled before any arm stepped holds only its starting weights: nothing to read.
        const stepped = summary.status === 'finished' || summary.arms.some((a) => a.steps > 0);
        const weights = new Map<string, Map<string, Float32Array>>();
        if (stepped)
          await phase('read-back', async () => {
            for (const arm of summary.arms) weights.set(arm.id, await engine.weightsOf(arm.id));
          });
        return { summary: { ...summary, ms: performance.now() - t0 }, weights, data };
      } catch (error) {
        this.checkpointValue = engine.checkpoint;
        // The engine is destroyed before the next attempt allocates (finally runs first).
        if (this.degrade(error)) continue;
        if (host.signal?.aborted || this.resumes >= MAX_RESUMES || !(await deviceLost(rt, error)))
          throw error;
        this.resumes++;
        rt = await liveRuntime(() => this.host.acquire());
        const step = this.checkpointValue?.step ?? 0;
        // The steps after the checkpoint are taken again; what they reported is forgotten.
        this.record.rewind(step);
        host.onProgress({
          type: 'resumed',
          step,
          attempt: this.resumes,
          message: error instanceof Error ? error.message : String(error),
        });
      } finally {
        host.signal?.removeEventListener('abort', onAbort);
        stopWatching();
        engine.destroy();
      }
    }
  }

  /**
   * Whether an attempt's failure is the first time the memory ran out; if so the job goes on with one
   * arm at a time from the last checkpoint (its record rewound to it), and the host is told.
   */
  private degrade(error: unknown): boolean {
    const oom = error instanceof TrainOutOfMemoryError || error instanceof GpuOutOfMemoryError;
    if (!oom || this.residency === 'one-at-a-time' || this.host.signal?.aborted) return false;
    this.residency = 'one-at-a-time';
    const step = this.checkpointValue?.step ?? 0;
    this.record.rewind(step);
    const cause = error instanceof TrainOutOfMemoryError ? error.cause : error;
    this.host.onProgress({ type: 'degraded', step, message: cause.message });
    return true;
  }
}
