// A run record's config read back as the studio's settings, to run it again. The config is
// whatever the producer wrote (the studio: { prune, evaluation }, EvalOptions or TrainJobOptions;
// the CLI: the engine's prune options alone, its evaluation texts in the results, its eval
// command's options, or its train command's options with what it resolved), so it is
// read defensively and every value goes through the same field checks as a link (urlState.ts): a
// record can no more smuggle a bad value into the form than a link can.

import type { RunRecord } from '../../run/record';
import { readArmSpec, variantOfArm } from '../../train/armSpec';
import type { TrainForm } from '../optimizer/trainSettings';
import type { PruneForm } from '../pruning/pruneSettings';
import { decodeFields, EVAL_FIELDS, type EvalSettings, PRUNE_FIELDS, TRAIN_FIELDS } from '../shell/urlState';

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
    // The studio records devices beside prune (above 1 only); the CLI's records leave it out.
    ['devices', 'prune' in config ? text(config.devices) : undefined],
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

/** An arm as a link spells it (`variant@rate`), from the studio's { variant, lr } or the CLI's arm text. */
function armOfRecord(arm: unknown, problems: string[]): string | null {
  const studio = object(arm);
  if (studio) return `${text(studio.variant)}@${text(studio.lr)}`;
  if (typeof arm !== 'string') {
    problems.push(`config.arms: ${JSON.stringify(arm)?.slice(0, 40)} is not an arm`);
    return null;
  }
  try {
    const read = readArmSpec(arm);
    const variant = variantOfArm(read);
    if (variant) return `${variant}@${read.lr}`;
    problems.push(`the arm ${arm} has settings no studio optimizer has; it is left out`);
  } catch (error) {
    problems.push(`config.arms: ${(error as Error).message}`);
  }
  return null;
}

/**
 * The training form a record describes: the studio's TrainJobOptions, or the CLI's train options
 * (with what it resolved: warm-up and validation interval) and its arms as text.
 */
export function trainFormOfRecord(record: Pick<RunRecord, 'config'>): ConfigSettings<TrainForm> {
  const config = record.config;
  const cli = object(config.resolved);
  const source = cli ?? config;
  const problems: string[] = [];
  const model = object(config.model);
  const data = object(config.data);
  const arms = Array.isArray(source.arms) ? source.arms : [];
  const armTexts = arms.map((a) => armOfRecord(a, problems)).filter((a) => a !== null);

  let kind: string | undefined;
  let textName: string | undefined;
  if (cli) {
    kind = config.from === undefined ? 'preset' : 'loaded';
    if (config.from !== undefined)
      problems.push(`the run fine-tuned the folder ${text(config.from)}; load that model to do the same`);
    if (config.textFile !== undefined) {
      problems.push(`the run trained on the file ${text(config.textFile)}: drop it on the text field again`);
      textName = 'user';
    } else textName = text(config.text);
    if (config.minLrRatio !== undefined && config.minLrRatio !== 0.1)
      problems.push(
        `the run decayed to ${text(config.minLrRatio)} of the peak rate; the studio decays to 0.1`,
      );
    if (config.valFraction !== undefined && config.valFraction !== 0.1)
      problems.push(`the run held out ${text(config.valFraction)} of the text; the studio holds out 0.1`);
  } else {
    kind = text(model?.kind);
    textName = text(data?.kind);
    if (textName === 'user') {
      const label = typeof data?.label === 'string' ? ` "${data.label}"` : '';
      problems.push(`the run trained on your own text${label}, which records do not keep: paste it again`);
    }
  }

  const fields: [string, string | undefined][] = [
    ['model', kind],
    ['preset', kind === 'preset' ? text(cli ? config.size : model?.preset) : undefined],
    ['family', kind === 'preset' ? text(cli ? config.family : model?.family) : undefined],
    // The person's own text is not a field a link or a record can set; the form asks for it.
    ['text', textName === 'user' ? undefined : textName],
    ['steps', text(source.steps)],
    ['batch', text(source.batch)],
    ['seqLen', text(source.seqLen)],
    ['warmup', text(source.warmupSteps)],
    ['decay', text(source.decay)],
    ['validationEvery', text(source.validationEvery)],
    ['validationWindows', text(source.validationWindows)],
    ['seed', text(source.seed)],
    ['arms', armTexts.length > 0 ? armTexts.join(',') : undefined],
  ];
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined);
  const values: Partial<TrainForm> = decodeFields(TRAIN_FIELDS, present, 'config.', problems);
  if (textName === 'user') values.text = 'user';
  return { values, problems };
}
