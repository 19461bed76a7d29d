// The Pruning panel's settings as a form: text in the inputs, checked field by field into the
// engine's PruneOptions, with the paper's value beside each field and, where our default differs,
// why. Pure, so the rules are tested without a page; the engine checks the same settings again.

import { type Bound, describeBound, inBound, SEED_BOUND } from '../../bounds/bound';
import { EVAL_BOUNDS } from '../../jobs/evalOptions';
import type { EvalText } from '../../model/evaluate';
import {
  type BlockInputs,
  defaultBlockInputs,
  defaultCalibration,
  type FistaOptions,
  PAPER_CALIBRATION,
  PAPER_FISTA,
  PAPER_SPARSEGPT,
  PRUNE_BOUNDS,
  type PruneMethod,
  type PruneOptions,
  STUDIO_FISTA,
  type ThresholdGroup,
  type WarmStart,
} from '../../prune/options';
import {
  canSplitBlocks,
  type DeviceRoom,
  devicesProblem,
  MAX_PRUNE_DEVICES,
  maxPruneDevices,
} from '../../prune/parallel';
import type { ModelSummary, PruneJobOptions } from '../../worker/api';
import { parseSeed } from '../shell/format';

export type CalibrationChoice = 'c4' | 'tinystories' | 'text';

export interface PruneForm {
  method: PruneMethod;
  pattern: 'unstructured' | 'nm';
  /** Percent zeroed, unstructured. */
  sparsity: string;
  n: string;
  m: string;
  warmStart: WarmStart;
  calibration: CalibrationChoice;
  pastedText: string;
  windows: string;
  seqLen: string;
  seed: string;
  iterations: string;
  rounds: string;
  xi: string;
  thresholdGroup: ThresholdGroup;
  errorCorrection: boolean;
  blockInputs: BlockInputs;
  /** GPU devices to prune on at once; above 1 only with dense block inputs. */
  devices: string;
  /**
   * Keep the finished blocks' pruned matrices on disk (the browser's private file system) instead
   * of in the tab; a run whose plan needs too much of the device's memory does so anyway.
   */
  prunedOnDisk: boolean;
  percdamp: string;
  evaluate: boolean;
  evalText: EvalText;
  evalSeqLen: string;
  /** Empty: every window of the text. */
  evalWindows: string;
}

export type FormField = keyof PruneForm;

/** What the settings depend on: the model's context, size and operator widths. */
export type ModelShape = Pick<
  ModelSummary,
  'family' | 'context' | 'parameters' | 'hidden' | 'heads' | 'headDim' | 'ffnHidden' | 'defaultSeqLen'
>;

export const METHOD_LABELS: Record<PruneMethod, string> = {
  fista: 'FISTAPruner',
  sparsegpt: 'SparseGPT',
  wanda: 'Wanda',
  magnitude: 'Magnitude',
};

export const WARM_START_LABELS: Record<WarmStart, string> = {
  sparsegpt: 'SparseGPT',
  wanda: 'Wanda',
  magnitude: 'Magnitude',
  dense: 'Dense (no warm start)',
};

/** N:M presets: the pattern sparse tensor cores run (2:4) and its wider cousin. */
export const NM_PRESETS = [
  { n: 2, m: 4 },
  { n: 4, m: 8 },
] as const;

/**
 * The studio's defaults for a model: the paper's, with calibration scaled to the model and
 * FISTAPruner's λ rounds from our sweep (options.ts, STUDIO_FISTA).
 */
export function defaultForm(model: ModelShape): PruneForm {
  const cal = defaultCalibration(model.context, model.parameters);
  return {
    method: 'fista',
    pattern: 'unstructured',
    sparsity: '50',
    n: '2',
    m: '4',
    ...fistaFields(STUDIO_FISTA),
    calibration: 'c4',
    pastedText: '',
    windows: String(cal.windows),
    seqLen: String(cal.seqLen),
    seed: String(cal.seed),
    blockInputs: defaultBlockInputs('fista'),
    devices: '1',
    prunedOnDisk: false,
    percdamp: String(PAPER_SPARSEGPT.percdamp),
    evaluate: true,
    evalText: 'wikitext2',
    evalSeqLen: String(model.defaultSeqLen),
    evalWindows: '',
  };
}

type FistaFields = Pick<
  PruneForm,
  'warmStart' | 'iterations' | 'rounds' | 'xi' | 'thresholdGroup' | 'errorCorrection'
>;

function fistaFields(o: FistaOptions): FistaFields {
  return {
    warmStart: o.warmStart,
    iterations: String(o.iterations),
    rounds: String(o.rounds),
    xi: String(o.xi),
    thresholdGroup: o.thresholdGroup,
    errorCorrection: o.errorCorrection,
  };
}

/** FISTAPruner's two one-click settings: the studio's defaults and the paper's. */
export const FISTA_PRESETS = [
  {
    id: 'studio',
    label: `Studio (T = ${STUDIO_FISTA.rounds}, K = ${STUDIO_FISTA.iterations})`,
    fields: fistaFields(STUDIO_FISTA),
  },
  {
    id: 'paper',
    label: `Paper (T = ${PAPER_FISTA.rounds}, K = ${PAPER_FISTA.iterations})`,
    fields: fistaFields(PAPER_FISTA),
  },
] as const;

/** Whether the form's FISTAPruner fields are exactly a preset's. */
export function isFistaPreset(form: PruneForm, fields: FistaFields): boolean {
  return (Object.keys(fields) as (keyof FistaFields)[]).every((k) => form[k] === fields[k]);
}

/** A method change also changes the block inputs to that method's reference pipeline. */
export function withMethod(form: PruneForm, method: PruneMethod): PruneForm {
  const blockInputs = defaultBlockInputs(method);
  // A method whose blocks cannot be split goes back to one device rather than to an error.
  return { ...form, method, blockInputs, devices: canSplitBlocks({ blockInputs }) ? form.devices : '1' };
}

/** Whether SparseGPT runs at all (as the method or as FISTAPruner's warm start): its damping matters then. */
export function usesSparseGpt(form: Pick<PruneForm, 'method' | 'warmStart'>): boolean {
  return form.method === 'sparsegpt' || (form.method === 'fista' && form.warmStart === 'sparsegpt');
}

export interface FieldHint {
  /** The paper's (or the reference code's) value. */
  paper: string;
  /** Our default, where it differs, and why. */
  ours?: string;
}

export function fieldHints(model: ModelShape): Partial<Record<FormField, FieldHint>> {
  const cal = defaultCalibration(model.context, model.parameters);
  const small = cal.windows !== PAPER_CALIBRATION.windows;
  const shorter = cal.seqLen !== PAPER_CALIBRATION.seqLen;
  return {
    method: { paper: 'FISTAPruner, against SparseGPT, Wanda and magnitude.' },
    pattern: { paper: '50% unstructured and 2:4.' },
    warmStart: {
      paper: 'SparseGPT for OPT, Wanda for LLaMA.',
      ours:
        model.family === 'llama'
          ? 'SparseGPT for every family: on stories260K (a LLaMA) it was the better start at 2:4 (TinyStories 26.3 against 35.0 from Wanda; docs/results/pruning.md).'
          : undefined,
    },
    calibration: { paper: 'C4, the first train shard, as SparseGPT and Wanda sample it.' },
    windows: {
      paper: String(PAPER_CALIBRATION.windows),
      ours: small
        ? `${cal.windows}: a model under 10M parameters is well served by fewer windows, and the run stays in seconds.`
        : undefined,
    },
    seqLen: {
      paper: `${PAPER_CALIBRATION.seqLen} tokens (the OPT and LLaMA context).`,
      ours: shorter
        ? `${cal.seqLen}: half of this model's ${model.context}-token context, so windows come from more documents.`
        : undefined,
    },
    seed: { paper: '0 (our generator is not Python’s, so the windows differ anyway).' },
    iterations: { paper: String(PAPER_FISTA.iterations) },
    rounds: {
      paper: String(PAPER_FISTA.rounds),
      ours: `${STUDIO_FISTA.rounds}: on stories260K calibrated on TinyStories, 10 λ rounds gave perplexity 11.09 against the paper's 12.67 at 50%, and 20.17 against 21.84 at 2:4 (docs/results/pruning.md).`,
    },
    xi: { paper: String(PAPER_FISTA.xi) },
    thresholdGroup: {
      paper: 'Not stated (docs/algorithms/fistapruner.md §5.1).',
      ours: 'Per row: it matches the row-wise objective and Wanda, and did better in our float64 prototype.',
    },
    errorCorrection: { paper: 'On (intra-layer cumulative error correction).' },
    blockInputs: {
      paper:
        'Dense inputs for FISTAPruner (blocks independent); pruned inputs in SparseGPT’s and Wanda’s code.',
    },
    devices: {
      paper:
        'One GPU. Several split the blocks into ranges pruned at once, each on its own device (the same weights as on one).',
    },
    percdamp: {
      paper: `${PAPER_SPARSEGPT.percdamp} of the mean Hessian diagonal (raised ×10 on a failed Cholesky).`,
    },
    evalText: { paper: 'WikiText-2 raw test.' },
    evalSeqLen: { paper: '2048 tokens (OPT, LLaMA).' },
    evalWindows: { paper: 'All of them (remainder dropped). Fewer make a quicker, noisier number.' },
  };
}

export type FormErrors = Partial<Record<FormField, string>>;

export type BuiltOptions = { ok: true; options: PruneJobOptions } | { ok: false; errors: FormErrors };

const int = (text: string) => (/^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN);
const num = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

/** The input widths N:M groups run along, by operator (every family has these four). */
function inputWidths(model: ModelShape): { name: string; width: number }[] {
  return [
    { name: 'q/k/v and gate/up', width: model.hidden },
    { name: 'o', width: model.heads * model.headDim },
    { name: 'down', width: model.ffnHidden },
  ];
}

/**
 * The most devices the form offers: sized from the cores, the budget and (once a run has reported
 * its memory plan) one block's peak; without a room, the engine's cap (the worker checks again
 * against the run's own plan).
 */
export function devicesOffered(room?: DeviceRoom): number {
  return room ? maxPruneDevices(room) : MAX_PRUNE_DEVICES;
}

/** Why several devices cannot be chosen for these settings, or null when they can. */
export function devicesUnavailable(form: Pick<PruneForm, 'blockInputs'>): string | null {
  return canSplitBlocks(form)
    ? null
    : "One device only: with the pruned model's block inputs each block waits for the one before.";
}

/** The form as the job's options, or an error per field that is wrong. */
export function buildOptions(form: PruneForm, model: ModelShape, room?: DeviceRoom): BuiltOptions {
  const errors: FormErrors = {};
  const B = PRUNE_BOUNDS;
  const outOf = (b: Bound) => `${describeBound(b).replace(/^a/, 'A')}.`;
  const isFista = form.method === 'fista';

  let pattern: PruneOptions['pattern'] = { kind: 'unstructured', sparsity: 0.5 };
  if (form.pattern === 'unstructured') {
    const percent = num(form.sparsity);
    if (!inBound(B.sparsity, percent / 100))
      errors.sparsity = `A percentage strictly between ${100 * B.sparsity.min} and ${100 * B.sparsity.max}.`;
    else pattern = { kind: 'unstructured', sparsity: percent / 100 };
  } else {
    const n = int(form.n);
    const m = int(form.m);
    if (!(Number.isInteger(n) && n >= B.n.min)) errors.n = `A whole number N ≥ ${B.n.min}.`;
    if (!(Number.isInteger(m) && m >= B.m.min)) errors.m = `A whole number M ≥ ${B.m.min}.`;
    else if (n >= m) errors.n = 'N < M: N are kept of every M.';
    else if (m > B.m.max) errors.m = `The mask kernels take groups of at most ${B.m.max}.`;
    else {
      const misfit = inputWidths(model).find((w) => w.width % m !== 0);
      if (misfit) errors.m = `M = ${m} does not divide the ${misfit.width} inputs of ${misfit.name}.`;
      else if (usesSparseGpt(form) && PAPER_SPARSEGPT.blocksize % m !== 0)
        errors.m = `SparseGPT sweeps ${PAPER_SPARSEGPT.blocksize} columns at a time: M must divide ${PAPER_SPARSEGPT.blocksize}.`;
    }
    if (!errors.n && !errors.m) pattern = { kind: 'nm', n, m };
  }

  const windows = int(form.windows);
  if (!inBound(B.windows, windows)) errors.windows = outOf(B.windows);
  const seqLen = int(form.seqLen);
  if (!(inBound(B.seqLen, seqLen) && seqLen <= model.context))
    errors.seqLen = `A whole number of tokens from ${B.seqLen.min} to the model’s context (${model.context}).`;
  const seed = parseSeed(form.seed);
  if (seed === null) errors.seed = `${describeBound(SEED_BOUND).replace(/^a/, 'A')} (or 0x… hex).`;
  let source: PruneOptions['calibration']['source'] = { kind: 'c4' };
  if (form.calibration === 'tinystories') source = { kind: 'tinystories' };
  if (form.calibration === 'text') {
    if (form.pastedText.trim() === '') errors.pastedText = 'Paste the text to calibrate on.';
    source = { kind: 'text', text: form.pastedText, label: 'pasted text' };
  }

  const iterations = int(form.iterations);
  const rounds = int(form.rounds);
  const xi = num(form.xi);
  if (isFista) {
    if (!inBound(B.iterations, iterations)) errors.iterations = outOf(B.iterations);
    if (!inBound(B.rounds, rounds)) errors.rounds = outOf(B.rounds);
    if (!inBound(B.xi, xi)) errors.xi = outOf(B.xi);
  }
  const percdamp = num(form.percdamp);
  if (usesSparseGpt(form) && !inBound(B.percdamp, percdamp)) errors.percdamp = outOf(B.percdamp);

  const devices = int(form.devices);
  const devicesError = devicesProblem(devices, canSplitBlocks(form), devicesOffered(room));
  if (devicesError) errors.devices = devicesError;

  let evaluation: PruneJobOptions['evaluation'] = null;
  if (form.evaluate) {
    const evalSeqLen = int(form.evalSeqLen);
    if (!(inBound(EVAL_BOUNDS.seqLen, evalSeqLen) && evalSeqLen <= model.context))
      errors.evalSeqLen = `A whole number of tokens from ${EVAL_BOUNDS.seqLen.min} to the model’s context (${model.context}).`;
    const evalWindows = form.evalWindows.trim() === '' ? undefined : int(form.evalWindows);
    if (evalWindows !== undefined && !inBound(EVAL_BOUNDS.maxWindows, evalWindows))
      errors.evalWindows = 'Empty for all, or a whole number ≥ 1.';
    evaluation = {
      text: form.evalText,
      seqLen: evalSeqLen,
      ...(evalWindows === undefined ? {} : { maxWindows: evalWindows }),
    };
  }

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    options: {
      prune: {
        method: form.method,
        pattern,
        calibration: { source, windows, seqLen, seed: seed as number },
        fista: {
          ...PAPER_FISTA,
          iterations: isFista ? iterations : PAPER_FISTA.iterations,
          rounds: isFista ? rounds : PAPER_FISTA.rounds,
          xi: isFista ? xi : PAPER_FISTA.xi,
          warmStart: form.warmStart,
          thresholdGroup: form.thresholdGroup,
          errorCorrection: form.errorCorrection,
        },
        sparsegpt: {
          ...PAPER_SPARSEGPT,
          percdamp: usesSparseGpt(form) ? percdamp : PAPER_SPARSEGPT.percdamp,
        },
        blockInputs: form.blockInputs,
      },
      evaluation,
      // Left out at 1 so a one-device run's options (and record) read as before.
      ...(devices > 1 ? { devices } : {}),
      ...(form.prunedOnDisk ? { prunedOnDisk: true } : {}),
    },
  };
}

/** '50% unstructured', '2:4'. */
export function describePattern(p: PruneOptions['pattern']): string {
  return p.kind === 'nm' ? `${p.n}:${p.m}` : `${+(100 * p.sparsity).toFixed(2)}% unstructured`;
}

/** 'FISTAPruner (SparseGPT start)', 'Wanda'. */
export function describeMethod(o: PruneOptions): string {
  return o.method === 'fista'
    ? `${METHOD_LABELS.fista} (${WARM_START_LABELS[o.fista.warmStart].split(' ')[0]} start)`
    : METHOD_LABELS[o.method];
}
