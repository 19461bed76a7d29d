// What a host keeps of finished training runs (the studio's worker, for a session): the record of every run of the session, and
// every arm's weights for the newest KEPT_WEIGHT_RUNS runs, on the host (the job and its GPU
// buffers are freed as soon as a run ends). A nano or tiny preset's arm is a few hundred kB, the
// paper-preset model's 13 MB, times up to eight arms; saving or opening an arm is what one does right
// after a run, and an older run is re-created from its recorded settings (it is seeded).
// A run that failed keeps what it had at its last validation, so a later failure never loses a
// finished arm.

import type { ByteSource } from '../model/byteSource';
import type { ModelConfig } from '../model/config';
import { exportHfModel } from '../model/export';
import { memoryWeightSource } from '../model/weights';
import type { TrainSummary } from '../train/job';
import { type ExportedRunFile, tokenizerExports } from './pruneRuns';
import type { TrainJobOptions } from './trainData';

export const KEPT_WEIGHT_RUNS = 2;

/** What a training run leaves: its settings and summary, and whether the worker holds its arms' weights. */
export interface TrainRun {
  id: string;
  /** ISO 8601. */
  createdAt: string;
  /** How the run ended; a failed run keeps the weights of its last validation. */
  status: 'finished' | 'cancelled' | 'failed';
  /** 'nano GPT-2 (from scratch)', or the loaded model's name and 'fine-tuned'. */
  modelName: string;
  dataLabel: string;
  trainTokens: number;
  validationTokens: number;
  parameters: number;
  /** The settings, with a pasted text left out (its label stays). */
  options: TrainJobOptions;
  summary: TrainSummary;
  /** The step the kept weights are from (the last step, or the last validation after a failure). */
  weightsStep: number;
  /** Whether the worker still holds the arms' weights (exportTrainArm). */
  exportable: boolean;
  /** Lost devices the run continued after (absent in older records). */
  resumes?: number;
}

interface StoredRun {
  run: TrainRun;
  config: ModelConfig;
  /** Per arm id; null once KEPT_WEIGHT_RUNS newer runs exist. */
  weights: Map<string, Map<string, Float32Array>> | null;
  /** The tokenizer the arms were trained with, saved beside each of them. */
  tokenizerFiles: ByteSource[];
}

export class TrainRunStore {
  private readonly runs = new Map<string, StoredRun>();

  constructor(private readonly keepWeights = KEPT_WEIGHT_RUNS) {}

  add(
    run: TrainRun,
    config: ModelConfig,
    weights: Map<string, Map<string, Float32Array>>,
    tokenizerFiles: ByteSource[],
  ): TrainRun {
    const stored: StoredRun = { run: { ...run, exportable: true }, config, weights, tokenizerFiles };
    this.runs.set(run.id, stored);
    const held = [...this.runs.values()].filter((r) => r.weights !== null);
    for (const old of held.slice(0, Math.max(0, held.length - this.keepWeights))) {
      old.weights = null;
      old.run = { ...old.run, exportable: false };
    }
    return stored.run;
  }

  /** The runs whose weights are still held. */
  held(): string[] {
    return [...this.runs.values()].flatMap((r) => (r.weights ? [r.run.id] : []));
  }

  hasRun(runId: string): boolean {
    return this.runs.has(runId);
  }

  forget(runId: string): void {
    this.runs.delete(runId);
  }

  /**
   * One arm as a Hugging Face folder: model.safetensors and config.json, the tokenizer it was
   * trained with, and summary.json. Null when the run's weights were dropped or there is no such arm.
   */
  async exportArm(runId: string, armId: string): Promise<ExportedRunFile[] | null> {
    const stored = this.runs.get(runId);
    const tensors = stored?.weights?.get(armId);
    const arm = stored?.run.summary.arms.find((a) => a.id === armId);
    if (!stored || !tensors || !arm) return null;
    const { run, config } = stored;
    const source = memoryWeightSource(config, tensors, `${run.modelName}, ${arm.label}`);
    const files: ExportedRunFile[] = await exportHfModel(source, {
      trained_by: 'compression-studio',
      optimizer: arm.label,
    });
    files.push(...(await tokenizerExports(stored.tokenizerFiles)));
    const summary = {
      trainedBy: 'compression-studio',
      model: run.modelName,
      createdAt: run.createdAt,
      status: run.status,
      weightsStep: run.weightsStep,
      data: { label: run.dataLabel, trainTokens: run.trainTokens, validationTokens: run.validationTokens },
      options: { ...run.options, arms: run.options.arms.filter((a) => a.id === armId) },
      arm,
    };
    files.push({
      name: 'summary.json',
      data: new TextEncoder().encode(`${JSON.stringify(summary, null, 2)}\n`),
    });
    return files;
  }
}
