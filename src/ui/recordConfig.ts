// A run record's config read back as the studio's settings, to run it again. The config is
// whatever the producer wrote (the studio: { prune, evaluation }; the CLI: the engine's prune
// options alone, its evaluation texts in the results, or its eval command's options), so it is
// read defensively and every value goes through the same field checks as a link (urlState.ts): a
// record can no more smuggle a bad value into the form than a link can.

import type { RunRecord } from '../run/record';
import type { PruneForm } from './pruneSettings';
import { decodeFields, EVAL_FIELDS, type EvalSettings, PRUNE_FIELDS } from './urlState';

type Loose = Record<string, unknown> | undefined;
const object = (v: unknown): Loose =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Only plain values become field texts; anything else is left for the field check to refuse. */
function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v === undefined ? undefined : JSON.stringify(v);
}

export interface ConfigSettings<T> {
  values: Partial<T>;
  /** What could not be read, said as a link's problems are. */
  problems: string[];
}

/** The pruning form a record describes; fields it does not name keep the model's defaults. */
export function pruneFormOfRecord(record: Pick<RunRecord, 'config' | 'results'>): ConfigSettings<PruneForm> {
  const config = record.config;
  const prune = object(config.prune) ?? config;
  const pattern = object(prune.pattern);
  const calibration = object(prune.calibration);
  const source = object(calibration?.source);
  const fista = object(prune.fista);
  const sparsegpt = object(prune.sparsegpt);
  // The studio's records say how they evaluated; a CLI record names its texts in the results only.
  const evaluated = Object.keys(record.results)
    .map((key) => /^pplAfter\.(.+)$/.exec(key)?.[1])
    .filter((text) => text !== undefined);
  const evaluation =
    'evaluation' in config
      ? object(config.evaluation)
      : evaluated.length
        ? { text: evaluated[0] }
        : undefined;
  const nm = pattern?.kind === 'nm';
  const sparsity =
    typeof pattern?.sparsity === 'number' ? +(100 * pattern.sparsity).toPrecision(12) : undefined;

  const fields: [string, string | undefined][] = [
    ['method', text(prune.method)],
    ['pattern', pattern ? (nm ? 'nm' : 'unstructured') : undefined],
    ['sparsity', nm ? undefined : text(sparsity)],
    ['n', nm ? text(pattern?.n) : undefined],
    ['m', nm ? text(pattern?.m) : undefined],
    ['warmStart', text(fista?.warmStart)],
    ['calibration', source?.kind === 'text' ? undefined : text(source?.kind)],
    ['windows', text(calibration?.windows)],
    ['seqLen', text(calibration?.seqLen)],
    ['seed', text(calibration?.seed)],
    ['iterations', text(fista?.iterations)],
    ['rounds', text(fista?.rounds)],
    ['xi', text(fista?.xi)],
    ['thresholdGroup', text(fista?.thresholdGroup)],
    ['errorCorrection', text(fista?.errorCorrection)],
    ['blockInputs', text(prune.blockInputs)],
    ['percdamp', text(sparsegpt?.percdamp)],
    ['evaluate', 'evaluation' in config || evaluated.length ? String(evaluation !== undefined) : undefined],
    ['evalText', text(evaluation?.text)],
    ['evalSeqLen', text(evaluation?.seqLen)],
    ['evalWindows', evaluation ? (text(evaluation.maxWindows) ?? '') : undefined],
  ];
  const problems: string[] = [];
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined);
  const values: Partial<PruneForm> = decodeFields(PRUNE_FIELDS, present, 'config.', problems);
  if (source?.kind === 'text') {
    // Records never hold a pasted text (run/build.ts pruneConfig): it has to be pasted again.
    const label = typeof source.label === 'string' ? ` "${source.label}"` : '';
    problems.push(`the run calibrated on a pasted text${label}, which records do not keep: paste it again`);
  }
  return { values, problems };
}

/** The evaluation settings a record describes: the studio's EvalOptions, or the CLI's eval options. */
export function evalSettingsOfRecord(
  record: Pick<RunRecord, 'config' | 'results'>,
): ConfigSettings<EvalSettings> {
  const { config, results } = record;
  const problems: string[] = [];
  const windows = config.maxWindows ?? config.windows;
  const fields: [string, string | undefined][] = [
    ['text', text(config.text)],
    // The CLI leaves the window to the model's context when not told; the results say what it was.
    ['seqLen', text(config.seqLen ?? results.seqLen)],
    ['windows', windows === undefined ? 'all' : text(windows)],
  ];
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined);
  return { values: decodeFields(EVAL_FIELDS, present, 'config.', problems), problems };
}
