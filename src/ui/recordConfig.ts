// A run record's config read back as the studio's settings, to run it again. The config is
// whatever the producer wrote (the studio writes its PruneJobOptions; a CLI record may hold the
// engine's PruneOptions alone), so it is read defensively and every value goes through the same
// field checks as a link (urlState.ts): a record can no more smuggle a bad value into the form.

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

/** The pruning form a record's config describes; fields it does not name keep the model's defaults. */
export function pruneFormOfConfig(config: Record<string, unknown>): ConfigSettings<PruneForm> {
  const prune = object(config.prune) ?? config;
  const pattern = object(prune.pattern);
  const calibration = object(prune.calibration);
  const source = object(calibration?.source);
  const fista = object(prune.fista);
  const sparsegpt = object(prune.sparsegpt);
  const evaluation = 'evaluation' in config ? object(config.evaluation) : undefined;
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
    // A pasted text is carried whole in the config and comes back as it was.
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
    ['evaluate', 'evaluation' in config ? String(evaluation !== undefined) : undefined],
    ['evalText', text(evaluation?.text)],
    ['evalSeqLen', text(evaluation?.seqLen)],
    ['evalWindows', evaluation ? (text(evaluation.maxWindows) ?? '') : undefined],
  ];
  const problems: string[] = [];
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined);
  const values: Partial<PruneForm> = decodeFields(PRUNE_FIELDS, present, 'config.', problems);
  if (source?.kind === 'text') {
    if (typeof source.text === 'string') {
      values.calibration = 'text';
      values.pastedText = source.text;
    } else problems.push('config.calibration is a pasted text, but the record does not hold the text');
  }
  return { values, problems };
}

/** The evaluation settings a record's config describes (EvalOptions: text, seqLen, maxWindows). */
export function evalSettingsOfConfig(config: Record<string, unknown>): ConfigSettings<EvalSettings> {
  const problems: string[] = [];
  const fields: [string, string | undefined][] = [
    ['text', text(config.text)],
    ['seqLen', text(config.seqLen)],
    ['windows', config.maxWindows === undefined ? 'all' : text(config.maxWindows)],
  ];
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined);
  return { values: decodeFields(EVAL_FIELDS, present, 'config.', problems), problems };
}
