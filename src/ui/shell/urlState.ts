// The studio's configuration as a link: the pruning, evaluation and training settings in the query
// string (`?prune.method=fista&prune.pattern=nm&eval.text=tinystories&train.arms=adamw@3e-3`), the
// section in the hash (`#prune`). Pure, so hostile links are tested without a page. A value is checked here as far as
// it can be without a model (its syntax and fixed range); what depends on the model (a window
// longer than its context, an M that does not divide its widths) is checked once the model is
// there (urlSync.ts). A bad value is reported and ignored; it never reaches a store.

import { type Bound, describeBound, inBound, intervalOf, SEED_BOUND } from '../../bounds/bound';
import { EVAL_BOUNDS } from '../../jobs/evalOptions';
import type { EvalText } from '../../model/evaluate';
import {
  BLOCK_INPUTS,
  PRUNE_BOUNDS,
  PRUNE_METHODS,
  THRESHOLD_GROUPS,
  WARM_STARTS,
} from '../../prune/options';
import { MAX_PRUNE_DEVICES } from '../../prune/parallel';
import { ARM_VARIANT_ORDER, ARM_VARIANTS, type ArmVariant } from '../../train/armVariants';
import { PRESETS } from '../../train/modelPresets';
import { TRAIN_BOUNDS } from '../../train/options';
import { DECAYS } from '../../train/schedule';
import type { ArmField, TrainForm } from '../optimizer/trainSettings';
import type { PruneForm } from '../pruning/pruneSettings';
import { parseSeed } from './format';

/**
 * What a link carries of the pruning form: everything but a pasted text, which is no link's
 * business, and where this machine keeps pruned matrices, a choice about its memory, not the run's.
 */
export type LinkedPruneForm = Omit<PruneForm, 'pastedText' | 'prunedOnDisk'>;
export type LinkedPruneField = keyof LinkedPruneForm;

/** What a link carries of the training form: all but the person's own text, which stays on their machine. */
export type LinkedTrainForm = Omit<TrainForm, 'userText' | 'userLabel'>;
export type LinkedTrainField = keyof LinkedTrainForm;

export interface EvalSettings {
  text: EvalText;
  seqLen: number;
  /** null: every window. */
  windows: number | null;
}

export interface UrlState {
  /** The id of the section in view, from the hash. */
  panel: string | null;
  prune: Partial<LinkedPruneForm>;
  eval: Partial<EvalSettings>;
  train: Partial<LinkedTrainForm>;
  /** A paper demo to open (public/demos/<name>.json). */
  demo: string | null;
}

/** Parses one field's text; a string is the reason it was refused. */
type Field<T> = (text: string) => T | { refused: string };
const refused = (reason: string) => ({ refused: reason });
const isRefused = (v: unknown): v is { refused: string } =>
  typeof v === 'object' && v !== null && 'refused' in v;

const WHOLE = /^\d{1,9}$/;
const DECIMAL = /^(\d{1,9}(\.\d{0,12})?|\.\d{1,12})(e[+-]?\d{1,3})?$/i;

function oneOf<T extends string>(...values: T[]): Field<T> {
  return (text) => (values.includes(text as T) ? (text as T) : refused(`one of ${values.join(', ')}`));
}

/**
 * A whole number or a decimal within one of the engine's bounds (prune/options.ts,
 * train/options.ts). A decimal's range is said in words ('greater than 0 and at most 1'), as links
 * and demo files have always said it.
 */
function inRange(b: Bound): Field<string> {
  const words = b.whole
    ? describeBound(b)
    : `a number ${b.openMin ? 'greater than' : 'at least'} ${b.min} and ` +
      `${b.openMax ? 'less than' : 'at most'} ${b.max}`;
  return (text) =>
    (b.whole ? WHOLE : DECIMAL).test(text) && inBound(b, Number(text))
      ? String(b.whole ? Number(text) : text)
      : refused(words);
}

const whole = (min: number, max: number) => inRange({ min, max, whole: true });

/**
 * An evaluation's counts have no upper end but the model's context or its text; a link asking for
 * more than this is refused unread.
 */
const LINK_MAX_COUNT = 1_000_000;
const linkable = (b: Bound) => inRange({ ...b, max: Math.min(b.max, LINK_MAX_COUNT) });

const seed: Field<string> = (text) =>
  parseSeed(text) === null ? refused(describeBound(SEED_BOUND)) : text.trim();

const flag: Field<boolean> = (text) =>
  text === 'true' || text === '1'
    ? true
    : text === 'false' || text === '0'
      ? false
      : refused('true or false');

/** The pruning form's fields as a link spells them; a demo file's settings go through the same table. */
export const PRUNE_FIELDS: { [K in LinkedPruneField]: Field<LinkedPruneForm[K]> } = {
  method: oneOf(...PRUNE_METHODS),
  pattern: oneOf('unstructured', 'nm'),
  // A percentage in links and forms, a fraction in the engine.
  sparsity: inRange({
    ...PRUNE_BOUNDS.sparsity,
    min: 100 * PRUNE_BOUNDS.sparsity.min,
    max: 100 * PRUNE_BOUNDS.sparsity.max,
  }),
  n: inRange(PRUNE_BOUNDS.n),
  m: inRange(PRUNE_BOUNDS.m),
  warmStart: oneOf(...WARM_STARTS),
  // A pasted text is not carried, so a link cannot ask for it.
  calibration: oneOf('c4', 'tinystories'),
  windows: inRange(PRUNE_BOUNDS.windows),
  seqLen: inRange(PRUNE_BOUNDS.seqLen),
  seed,
  iterations: inRange(PRUNE_BOUNDS.iterations),
  rounds: inRange(PRUNE_BOUNDS.rounds),
  xi: inRange(PRUNE_BOUNDS.xi),
  thresholdGroup: oneOf(...THRESHOLD_GROUPS),
  errorCorrection: flag,
  blockInputs: oneOf(...BLOCK_INPUTS),
  devices: whole(1, MAX_PRUNE_DEVICES),
  percdamp: inRange(PRUNE_BOUNDS.percdamp),
  evaluate: flag,
  evalText: oneOf('wikitext2', 'tinystories'),
  evalSeqLen: linkable(EVAL_BOUNDS.seqLen),
  // Empty: every window.
  evalWindows: (text) => (text === '' ? '' : linkable(EVAL_BOUNDS.maxWindows)(text)),
};

export const EVAL_FIELDS: { [K in keyof EvalSettings]: Field<EvalSettings[K]> } = {
  text: oneOf('wikitext2', 'tinystories'),
  seqLen: (text) => {
    const v = linkable(EVAL_BOUNDS.seqLen)(text);
    return isRefused(v) ? v : Number(v);
  },
  windows: (text) => {
    if (text === 'all') return null;
    const v = linkable(EVAL_BOUNDS.maxWindows)(text);
    return isRefused(v) ? refused('a whole number of windows from 1, or "all"') : Number(v);
  },
};

type Arms = Record<ArmVariant, ArmField>;

/** The arms that are on, `adamw@0.003,adapprox@0.001`, in the panel's order. */
export function armsText(arms: Arms): string {
  return ARM_VARIANT_ORDER.filter((v) => arms[v].on)
    .map((v) => `${v}@${arms[v].lr.trim()}`)
    .join(',');
}

/** The arms a link names turn on at their rates; the rest are off, at their default rates. */
const armsField: Field<Arms> = (text) => {
  const arms = Object.fromEntries(
    ARM_VARIANT_ORDER.map((v) => [v, { on: false, lr: String(ARM_VARIANTS[v].defaultLr) }]),
  ) as Arms;
  const expected =
    `optimizers as variant@rate, comma-separated (${ARM_VARIANT_ORDER.join(', ')}), ` +
    `each rate in ${intervalOf(TRAIN_BOUNDS.lr)}`;
  if (text === '') return refused(expected);
  for (const item of text.split(',')) {
    const [variant, lr, ...rest] = item.trim().split('@');
    const known = variant !== undefined && (ARM_VARIANT_ORDER as string[]).includes(variant);
    if (!known || lr === undefined || rest.length > 0 || arms[variant as ArmVariant].on)
      return refused(expected);
    const rate = inRange(TRAIN_BOUNDS.lr)(lr);
    if (isRefused(rate)) return refused(expected);
    arms[variant as ArmVariant] = { on: true, lr: rate };
  }
  return arms;
};

/** The training form's fields as a link spells them; ranges as the engine and the form check them (train/options.ts). */
export const TRAIN_FIELDS: { [K in LinkedTrainField]: Field<LinkedTrainForm[K]> } = {
  model: oneOf('preset', 'loaded'),
  preset: oneOf(...(Object.keys(PRESETS) as (keyof typeof PRESETS)[])),
  family: oneOf('gpt2', 'llama'),
  // The person's own text is not carried, so a link cannot ask for it.
  text: oneOf('tinyshakespeare', 'tinystories', 'wikitext2'),
  steps: inRange(TRAIN_BOUNDS.steps),
  batch: inRange(TRAIN_BOUNDS.batch),
  seqLen: inRange(TRAIN_BOUNDS.seqLen),
  warmup: inRange(TRAIN_BOUNDS.warmupSteps),
  decay: oneOf(...DECAYS),
  validationEvery: inRange(TRAIN_BOUNDS.validationEvery),
  validationWindows: inRange(TRAIN_BOUNDS.validationWindows),
  seed,
  arms: armsField,
};

const PANEL = /^[A-Za-z][\w-]{0,40}$/;
const DEMO = /^[A-Za-z0-9][\w-]{0,63}$/;
/** Longer values are not settings anyone typed; they are refused unread. */
const MAX_VALUE = 200;

/** How a problem names the value: short, and safe to show. */
function shown(text: string): string {
  const short = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(short);
}

const hasOwn = (table: object, key: string) => Object.hasOwn(table, key);

/**
 * Sets each field a record of texts names in `target`, through its parser; everything refused is
 * told in `problems` as '<prefix><field> = "<text>": <what is expected>'.
 */
export function decodeFields<T extends object>(
  table: { [K in keyof T]: Field<T[K]> },
  entries: Iterable<[string, string]>,
  prefix: string,
  problems: string[],
): Partial<T> {
  const out: Partial<T> = {};
  const seen = new Set<string>();
  for (const [key, text] of entries) {
    const name = `${prefix}${key}`;
    if (!hasOwn(table, key)) {
      problems.push(`${shown(name)} is not a setting the studio knows`);
      continue;
    }
    if (seen.has(key)) {
      problems.push(`${name} is given more than once; the first value is used`);
      continue;
    }
    seen.add(key);
    if (text.length > MAX_VALUE) {
      problems.push(`${name} is ${text.length} characters long, too long to be a setting`);
      continue;
    }
    const value = table[key as keyof T](text.trim());
    if (isRefused(value)) problems.push(`${name} = ${shown(text)}: expected ${value.refused}`);
    else out[key as keyof T] = value as T[keyof T];
  }
  return out;
}

/** Reads a link's query string and hash. Never throws: what is wrong is in `problems`. */
export function decodeUrlState(search: string, hash: string): { state: UrlState; problems: string[] } {
  const problems: string[] = [];
  const params = new URLSearchParams(search);
  const prune: [string, string][] = [];
  const evaluation: [string, string][] = [];
  const training: [string, string][] = [];
  let demo: string | null = null;
  for (const [key, value] of params) {
    if (key.startsWith('prune.')) prune.push([key.slice(6), value]);
    else if (key.startsWith('eval.')) evaluation.push([key.slice(5), value]);
    else if (key.startsWith('train.')) training.push([key.slice(6), value]);
    else if (key === 'demo') {
      if (DEMO.test(value)) demo = value;
      else problems.push(`demo = ${shown(value)}: expected a demo name (letters, digits, - and _)`);
    } else problems.push(`${shown(key)} is not a setting the studio knows`);
  }
  const state: UrlState = {
    panel: null,
    prune: decodeFields(PRUNE_FIELDS, prune, 'prune.', problems),
    eval: decodeFields(EVAL_FIELDS, evaluation, 'eval.', problems),
    train: decodeFields(TRAIN_FIELDS, training, 'train.', problems),
    demo,
  };
  let section = hash.replace(/^#/, '');
  try {
    section = decodeURIComponent(section);
  } catch {
    // A malformed escape stays as it was and fails the check below.
  }
  if (section !== '') {
    if (PANEL.test(section)) state.panel = section;
    else problems.push(`#${shown(section)} does not name a section of the studio`);
  }
  return { state, problems };
}

/** The query string and hash for a state: fields in a fixed order, so equal states give equal links. */
export function encodeUrlState(state: UrlState): { search: string; hash: string } {
  const params = new URLSearchParams();
  if (state.demo) params.set('demo', state.demo);
  for (const key of Object.keys(PRUNE_FIELDS) as LinkedPruneField[]) {
    const value = state.prune[key];
    if (value !== undefined) params.set(`prune.${key}`, String(value));
  }
  for (const key of Object.keys(EVAL_FIELDS) as (keyof EvalSettings)[]) {
    const value = state.eval[key];
    if (value !== undefined) params.set(`eval.${key}`, value === null ? 'all' : String(value));
  }
  for (const key of Object.keys(TRAIN_FIELDS) as LinkedTrainField[]) {
    const value = state.train[key];
    if (value !== undefined) params.set(`train.${key}`, trainFieldText(key, value));
  }
  const search = params.toString();
  return { search: search ? `?${search}` : '', hash: state.panel ? `#${state.panel}` : '' };
}

const trainFieldText = (key: LinkedTrainField, value: LinkedTrainForm[LinkedTrainField]) =>
  key === 'arms' ? armsText(value as Arms) : String(value);

/** The fields of `form` that differ from `defaults`: what a link needs to say. */
export function changedFields(form: LinkedPruneForm, defaults: LinkedPruneForm): Partial<LinkedPruneForm> {
  const out: Partial<LinkedPruneForm> = {};
  for (const key of Object.keys(PRUNE_FIELDS) as LinkedPruneField[]) {
    if (form[key] !== defaults[key]) (out as Record<string, unknown>)[key] = form[key];
  }
  return out;
}

/** The training fields that differ from `defaults`; the person's own text is never a link's. */
export function changedTrainFields(form: TrainForm, defaults: TrainForm): Partial<LinkedTrainForm> {
  const out: Partial<LinkedTrainForm> = {};
  for (const key of Object.keys(TRAIN_FIELDS) as LinkedTrainField[]) {
    if (key === 'text' && form.text === 'user') continue;
    if (trainFieldText(key, form[key]) !== trainFieldText(key, defaults[key]))
      (out as Record<string, unknown>)[key] = form[key];
  }
  return out;
}
