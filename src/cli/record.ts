// Run records from the CLI: every job command (prune, eval, and any other that opens a RunDraft)
// builds one with src/run/build.ts, prints it inside its --json object as `record` and writes it
// with --record <file>. A job that fails after its model is known still leaves a record, with
// status 'failed' and the error, so a failed shard on a remote machine says what went wrong.

import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { InspectedModel } from '../jobs/load';
import { buildRunRecord, type RunRecordParts } from '../run/build';
import { dataIdentityOf, modelIdentity as identityOf } from '../run/identity';
import type { DataIdentity, ModelIdentity, RunKind, RunRecord } from '../run/record';
import { emit } from './shared';

export function addRecordOption(command: Command): Command {
  return command.option('--record <file>', 'write the run record (JSON) to this file');
}

/**
 * The model as a record names it (src/run/identity.ts, as the studio names it), hashed with Node's
 * native sha256: several times faster than the studio's on a large checkpoint.
 */
export function modelIdentity(inspected: InspectedModel): Promise<ModelIdentity> {
  return identityOf(inspected.summary, inspected.weightFiles, () => createHash('sha256'));
}

/** A text file read for a job, and its identity ('wikitext2', 'c4', … or 'user'). */
export async function readData(
  name: string,
  path: string,
): Promise<{ text: string; identity: DataIdentity }> {
  const bytes = await readFile(path);
  return { text: new TextDecoder().decode(bytes), identity: await dataIdentityOf(name, bytes) };
}

/** What a job adds to its record; the timings are the draft's phases. */
type Outcome = Pick<RunRecordParts, 'metrics' | 'results' | 'detail'>;

/** What a command knows about its run so far; identities are filled in as the job reads its inputs. */
export class RunDraft {
  readonly startedAt = new Date();
  private readonly started = performance.now();
  model: ModelIdentity | null = null;
  readonly data: DataIdentity[] = [];
  adapter = 'none';
  /** The job's options as the record keeps them, set once the job has resolved its defaults. */
  config: Record<string, unknown> = {};
  /** Milliseconds per phase, summed when a phase runs more than once. */
  readonly timings: Record<string, number> = {};

  constructor(
    readonly kind: RunKind,
    readonly seed: number | null,
  ) {}

  elapsedMs(): number {
    return performance.now() - this.started;
  }

  async phase<T>(name: string, work: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await work();
    } finally {
      this.timings[name] = (this.timings[name] ?? 0) + performance.now() - t;
    }
  }

  build(status: RunRecord['status'], outcome: Outcome, error?: string): RunRecord | null {
    if (!this.model) return null;
    return buildRunRecord({
      kind: this.kind,
      startedAt: this.startedAt,
      finishedAt: new Date(),
      status,
      config: this.config,
      seed: this.seed,
      model: this.model,
      data: this.data,
      adapter: this.adapter,
      producer: 'cli',
      ...outcome,
      timings: { ...this.timings, total: this.elapsedMs() },
      error,
    });
  }
}

/** A job's failure, with the record it left (null when it failed before its model was read). */
export class FailedRunError extends Error {
  override name = 'FailedRunError';
  constructor(
    override readonly cause: unknown,
    readonly record: RunRecord | null,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export interface JobResult extends Outcome {
  /** The --json object (the record is added to it). */
  output: Record<string, unknown>;
  /** The human-readable summary on stderr. */
  summary: string;
  /** Where the record goes besides --record (prune --out keeps one in its folder). */
  recordFiles?: string[];
}

/** Runs a job, then prints its result and writes its record; a failure is recorded and rethrown. */
export async function runRecorded(
  cli: { json?: boolean; record?: string },
  draft: RunDraft,
  job: () => Promise<JobResult>,
): Promise<void> {
  let result: JobResult;
  try {
    result = await job();
  } catch (error) {
    const record = draft.build('failed', { metrics: [], results: {} }, String(error));
    if (record && cli.record) await writeRecord(cli.record, record);
    throw new FailedRunError(error, record);
  }
  const { output, summary, recordFiles = [], ...outcome } = result;
  const record = draft.build('finished', outcome);
  if (record)
    for (const path of [...recordFiles, ...(cli.record ? [cli.record] : [])]) await writeRecord(path, record);
  emit(
    Boolean(cli.json),
    { ...output, record },
    cli.record ? `${summary}\n  run record: ${cli.record}` : summary,
  );
}

export async function writeRecord(path: string, record: RunRecord): Promise<void> {
  await writeFile(path, `${JSON.stringify(record, null, 2)}\n`);
}
