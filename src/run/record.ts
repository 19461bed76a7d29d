// A run record: everything needed to know what a job (prune, train, eval) did and to run it again.
// The CLI writes one per job, the studio keeps them in its history and imports and exports them as
// JSON. The format is versioned; parseRunRecord checks an imported file field by field, so a
// truncated or hand-edited record is refused with the field that is wrong rather than half-shown.
// Version 2 added units and round tags to series (src/series/series.ts); a version 1 record is
// read by upgrading it (upgradeVersion1), so records written before stay readable.

import type { Series } from '../series/series';

export const RUN_RECORD_FORMAT = 'compression-studio/run-record';
export const RUN_RECORD_VERSION = 2;
/** Every version parseRunRecord reads; older ones are upgraded to RUN_RECORD_VERSION. */
const READABLE_VERSIONS: readonly unknown[] = [1, RUN_RECORD_VERSION];

export type RunKind = 'prune' | 'train' | 'eval';

/** What the weights were: the name shown and the sha256 of the weight bytes as read from the files. */
export interface ModelIdentity {
  name: string;
  /** Lower-case hex sha256 of the weight files' bytes, concatenated in the order listed. */
  sha256: string;
  files: string[];
  parameters: number;
}

/** What the data was: a built-in text by its id, or the user's text by its hash. */
export interface DataIdentity {
  /** 'wikitext2', 'tinystories', 'tinyshakespeare', 'c4', or 'user'. */
  name: string;
  sha256: string;
  bytes: number;
}

/** One named series of numbers over steps (loss per step, objective per iteration, …): the engine's Series. */
export type MetricSeries = Series;

export interface RunRecord {
  format: typeof RUN_RECORD_FORMAT;
  version: typeof RUN_RECORD_VERSION;
  id: string;
  kind: RunKind;
  /** ISO 8601 times. */
  startedAt: string;
  finishedAt: string;
  /** How the job ended. */
  status: 'finished' | 'cancelled' | 'failed';
  /** The job's full options, as given to the engine (prune options, train options, eval options). */
  config: Record<string, unknown>;
  seed: number | null;
  model: ModelIdentity;
  data: DataIdentity[];
  /** package.json's version of the engine that ran the job. */
  engineVersion: string;
  /** The GPU adapter, as the runtime describes it ('Google SwiftShader (fallback)', 'nvidia …'). */
  adapter: string;
  /** 'cli' or 'studio'. */
  producer: 'cli' | 'studio';
  metrics: MetricSeries[];
  /** The final numbers (perplexity, sparsity, validation loss, state bytes, …), flat. */
  results: Record<string, number | string | null>;
  /** Milliseconds per phase ('total', 'calibration', 'evaluation', …). */
  timings: Record<string, number>;
  /** Kind-specific detail kept whole (a PruneSummary, per-arm train summaries). */
  detail?: unknown;
  /** Set when status is 'failed'. */
  error?: string;
}

export class RunRecordError extends Error {
  override name = 'RunRecordError';
}

/** Lower-case hex sha256 of the bytes (Web Crypto, in browsers and in Node 20 alike). */
export async function sha256Hex(parts: readonly Uint8Array[]): Promise<string> {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.byteLength;
  }
  const digest = await crypto.subtle.digest('SHA-256', joined);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

type Check = (value: unknown) => boolean;
const isString: Check = (v) => typeof v === 'string';
const isObject: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumberArray: Check = (v) => Array.isArray(v) && v.every((n) => typeof n === 'number' || n === null);
const isCount: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const isOptionalString: Check = (v) => v === undefined || typeof v === 'string';
const HEX64 = /^[0-9a-f]{64}$/;

function field(record: Record<string, unknown>, path: string, check: Check, what: string): void {
  if (!check(record[path])) {
    throw new RunRecordError(`run record: "${path}" must be ${what}, got ${JSON.stringify(record[path])}`);
  }
}

/**
 * Checks a parsed JSON value as a run record and returns it typed. Unknown extra fields are kept
 * (a newer studio may add some); anything the charts or the re-run need must be present and typed.
 */
export function parseRunRecord(value: unknown): RunRecord {
  if (!isObject(value)) throw new RunRecordError('run record: the file does not hold a JSON object');
  const r = value as Record<string, unknown>;
  if (r.format !== RUN_RECORD_FORMAT) {
    throw new RunRecordError(`run record: "format" must be "${RUN_RECORD_FORMAT}"; this is not a run record`);
  }
  if (!READABLE_VERSIONS.includes(r.version)) {
    throw new RunRecordError(
      `run record: version ${JSON.stringify(r.version)} is not supported (this studio reads versions ${READABLE_VERSIONS.join(' and ')})`,
    );
  }
  field(r, 'id', isString, 'a string');
  field(r, 'kind', (v) => v === 'prune' || v === 'train' || v === 'eval', '"prune", "train" or "eval"');
  field(r, 'startedAt', isString, 'an ISO time');
  field(r, 'finishedAt', isString, 'an ISO time');
  field(r, 'status', (v) => v === 'finished' || v === 'cancelled' || v === 'failed', 'a run status');
  field(r, 'config', isObject, 'an object');
  field(r, 'seed', (v) => v === null || Number.isInteger(v), 'an integer or null');
  field(r, 'model', isObject, 'an object');
  const model = r.model as Record<string, unknown>;
  field(model, 'name', isString, 'a string');
  field(model, 'sha256', (v) => isString(v) && HEX64.test(v as string), 'a hex sha256');
  field(model, 'files', (v) => Array.isArray(v) && v.every(isString), 'a list of file names');
  field(model, 'parameters', Number.isInteger as Check, 'an integer');
  field(r, 'data', Array.isArray, 'a list');
  for (const d of r.data as unknown[]) {
    if (!isObject(d)) throw new RunRecordError('run record: each "data" entry must be an object');
    field(d as Record<string, unknown>, 'name', isString, 'a string');
    field(
      d as Record<string, unknown>,
      'sha256',
      (v) => isString(v) && HEX64.test(v as string),
      'a hex sha256',
    );
    field(d as Record<string, unknown>, 'bytes', isCount, 'a byte count');
  }
  field(r, 'engineVersion', isString, 'a string');
  field(r, 'adapter', isString, 'a string');
  field(r, 'producer', (v) => v === 'cli' || v === 'studio', '"cli" or "studio"');
  field(r, 'metrics', Array.isArray, 'a list');
  for (const m of r.metrics as unknown[]) {
    if (!isObject(m)) throw new RunRecordError('run record: each metric must be an object');
    const s = m as Record<string, unknown>;
    field(s, 'name', isString, 'a string');
    field(s, 'x', isNumberArray, 'a list of numbers');
    field(s, 'y', isNumberArray, 'a list of numbers');
    field(s, 'xUnit', isOptionalString, 'a unit name');
    field(s, 'unit', isOptionalString, 'a unit name');
    if (s.round !== undefined) {
      field(s, 'round', isObject, 'an object');
      const round = s.round as Record<string, unknown>;
      field(round, 'block', isCount, 'a block number');
      field(round, 'operator', isString, 'an operator name');
      field(round, 'round', isCount, 'a round number from 0');
    }
    if ((s.x as number[]).length !== (s.y as number[]).length) {
      throw new RunRecordError(
        `run record: metric "${s.name}" has ${(s.x as number[]).length} x and ${(s.y as number[]).length} y values`,
      );
    }
  }
  // The history table and the record view format these values as they are typed; a hand-edited
  // record with an object where a number belongs would otherwise break the page that shows it.
  field(r, 'results', isObject, 'an object');
  for (const [key, v] of Object.entries(r.results as Record<string, unknown>)) {
    if (!(typeof v === 'number' || typeof v === 'string' || v === null))
      throw new RunRecordError(
        `run record: results.${key} must be a number, a string or null, got ${JSON.stringify(v)}`,
      );
  }
  field(r, 'timings', isObject, 'an object');
  for (const [key, v] of Object.entries(r.timings as Record<string, unknown>)) {
    // null: a NaN timing as JSON writes it.
    if (!(v === null || (typeof v === 'number' && Number.isFinite(v))))
      throw new RunRecordError(`run record: timings.${key} must be milliseconds, got ${JSON.stringify(v)}`);
  }
  if (r.error !== undefined) field(r, 'error', isString, 'a string');
  const record = r as unknown as RunRecord;
  return r.version === 1 ? upgradeVersion1(record) : record;
}

/**
 * Version 1 named the studio's per-round objective series `last-operator/objective/round-N` (N from
 * 1) and kept their operator in results; version 2 tags each with `round`, which is how readers
 * find them. The names stay as they were.
 */
export function upgradeVersion1(record: RunRecord): RunRecord {
  const block = record.results['lastOperator.block'];
  const operator = record.results['lastOperator.name'];
  const metrics = record.metrics.map((series) => {
    const round = version1Round(series.name);
    if (round === null || series.round) return series;
    return {
      ...series,
      xUnit: 'iteration',
      round: {
        block: typeof block === 'number' ? block : 0,
        operator: typeof operator === 'string' ? operator : '?',
        round,
      },
    };
  });
  return { ...record, version: RUN_RECORD_VERSION, metrics };
}

const VERSION1_OBJECTIVE = 'last-operator/objective/round-';

/** The round (from 0) a version 1 objective series name stands for, or null for any other name. */
function version1Round(name: string): number | null {
  if (!name.startsWith(VERSION1_OBJECTIVE)) return null;
  const n = Number(name.slice(VERSION1_OBJECTIVE.length));
  // Only the names version 1 wrote: 'round-1', never 'round-01' or 'round-1e0'.
  return Number.isSafeInteger(n) && n >= 1 && `${VERSION1_OBJECTIVE}${n}` === name ? n - 1 : null;
}
