// The Optimizer panel's settings as a form: text in the inputs, checked field by field into the
// worker's TrainJobOptions, with the paper-scale setup (docs/algorithms/adapprox.md §4) beside each field.
// Every range is the engine's (TRAIN_BOUNDS, train/options.ts); the learning rate and warm-up are
// checked by the engine's own checkSchedule, so the field shows the message the engine would give.
// The worker checks everything again (and the rest: a window beyond the context of a loaded model,
// a text too short for a batch).

import { type Bound, describeBound, inBound, SEED_BOUND } from '../../bounds/bound';
import { ARM_VARIANT_ORDER, ARM_VARIANTS, type ArmVariant } from '../../train/armVariants';
import { TRAIN_TEXTS, type TrainText } from '../../train/data';
import { PRESETS, type PresetFamily, type PresetName } from '../../train/modelPresets';
import { TRAIN_BOUNDS } from '../../train/options';
import { checkSchedule, type Decay, type Schedule } from '../../train/schedule';
import type { TrainJobOptions } from '../../worker/api';
import { parseSeed } from '../shell/format';

export interface ArmField {
  on: boolean;
  lr: string;
}

export interface TrainForm {
  model: 'preset' | 'loaded';
  preset: PresetName;
  family: PresetFamily;
  text: TrainText;
  userText: string;
  /** The dropped file's name, or 'pasted text'. */
  userLabel: string;
  steps: string;
  batch: string;
  seqLen: string;
  warmup: string;
  decay: Decay;
  validationEvery: string;
  validationWindows: string;
  seed: string;
  arms: Record<ArmVariant, ArmField>;
}

export type TrainField = Exclude<keyof TrainForm, 'arms'> | `lr-${ArmVariant}` | 'arms';
export type TrainFormErrors = Partial<Record<TrainField, string>>;
export type BuiltTrainOptions =
  | { ok: true; options: TrainJobOptions }
  | { ok: false; errors: TrainFormErrors };

/** What the form's limits depend on when fine-tuning: the loaded model's context. */
export interface LoadedShape {
  name: string;
  context: number;
}

/** The four optimizers on, the ablations off; a preset small enough to watch train on most GPUs. */
export function defaultTrainForm(): TrainForm {
  const arms = Object.fromEntries(
    ARM_VARIANT_ORDER.map((v) => [
      v,
      { on: ['adamw', 'adafactor', 'came', 'adapprox'].includes(v), lr: String(ARM_VARIANTS[v].defaultLr) },
    ]),
  ) as Record<ArmVariant, ArmField>;
  return {
    model: 'preset',
    preset: 'tiny',
    family: 'gpt2',
    text: 'tinyshakespeare',
    userText: '',
    userLabel: 'pasted text',
    steps: '200',
    batch: '8',
    seqLen: '64',
    warmup: '20',
    decay: 'cosine',
    validationEvery: '20',
    validationWindows: '8',
    seed: '0',
    arms,
  };
}

/** The paper-scale reproduction setup (docs/algorithms/adapprox.md §4), beside each field (ours are scaled down to run in a browser). */
export const SPEC_HINTS: Partial<Record<TrainField, string>> = {
  preset: 'Paper scale: 4 layers, d = 256, 4 heads, context 128, tied embeddings (the “paper” preset).',
  text: 'Paper scale: Tiny Shakespeare for speed; TinyStories or WikiText-2 for a tall embedding.',
  steps: 'Paper scale: 3–5k steps.',
  batch: 'Paper scale: 32 windows.',
  seqLen: 'Paper scale: 128 tokens.',
  warmup: 'Paper scale: 200 steps, then cosine decay (to 10% of the peak here).',
  seed: 'Paper scale: 3 seeds per arm.',
  arms: 'Paper scale: tune each arm’s learning rate on a small grid; the same schedule shape for all.',
};

export const TEXT_LABELS: Record<TrainText, string> = {
  tinyshakespeare: TRAIN_TEXTS.tinyshakespeare.label,
  tinystories: TRAIN_TEXTS.tinystories.label,
  wikitext2: TRAIN_TEXTS.wikitext2.label,
  user: 'Your text (paste, or drop a .txt)',
};

const int = (text: string) => (/^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN);
const num = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

/** The context windows must fit: the preset's, or the loaded model's when fine-tuning. */
function contextOf(form: Pick<TrainForm, 'model' | 'preset'>, loaded: LoadedShape | null): number | null {
  if (form.model === 'loaded') return loaded?.context ?? null;
  return PRESETS[form.preset].context;
}

/** The form as the job's options, or an error per field that is wrong. */
export function buildTrainOptions(form: TrainForm, loaded: LoadedShape | null): BuiltTrainOptions {
  const errors: TrainFormErrors = {};
  if (form.model === 'loaded' && !loaded) errors.model = 'Load a model in the Model section to fine-tune it.';
  const context = contextOf(form, loaded);

  const B = TRAIN_BOUNDS;
  const outOf = (b: Bound) => `${describeBound(b).replace(/^a/, 'A')}.`;
  const steps = int(form.steps);
  if (!inBound(B.steps, steps)) errors.steps = outOf(B.steps);
  const batch = int(form.batch);
  if (!inBound(B.batch, batch)) errors.batch = outOf(B.batch);
  const seqLen = int(form.seqLen);
  if (context !== null && !(inBound(B.seqLen, seqLen) && seqLen <= context))
    errors.seqLen =
      context <= B.seqLen.max
        ? `A whole number of tokens from ${B.seqLen.min} to the model’s context (${context}).`
        : outOf(B.seqLen);
  const warmup = int(form.warmup);
  if (!inBound(B.warmupSteps, warmup)) errors.warmup = outOf(B.warmupSteps);
  else if (!errors.steps) {
    // No longer than the run: the engine's own check and words.
    const problem = engineCheck({ peak: 1e-3, warmupSteps: warmup, totalSteps: steps, decay: form.decay });
    if (problem) errors.warmup = problem;
  }
  const validationEvery = int(form.validationEvery);
  if (!inBound(B.validationEvery, validationEvery)) errors.validationEvery = outOf(B.validationEvery);
  const validationWindows = int(form.validationWindows);
  if (!inBound(B.validationWindows, validationWindows)) errors.validationWindows = outOf(B.validationWindows);
  const seed = parseSeed(form.seed);
  if (seed === null) errors.seed = `${describeBound(SEED_BOUND).replace(/^a/, 'A')} (or 0x… hex).`;
  if (form.text === 'user' && form.userText.trim() === '')
    errors.userText = 'Paste the text to train on, or drop a .txt file here.';

  const arms: TrainJobOptions['arms'] = [];
  for (const variant of ARM_VARIANT_ORDER) {
    const arm = form.arms[variant];
    if (!arm.on) continue;
    const lr = num(arm.lr);
    // The engine's own check, so the field says what a run would fail with.
    const problem = engineCheck({ peak: lr, warmupSteps: 0, totalSteps: 1, decay: 'constant' });
    if (problem) errors[`lr-${variant}`] = problem;
    arms.push({ id: variant, variant, lr });
  }
  if (arms.length === 0) errors.arms = 'Choose at least one optimizer.';

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    options: {
      model:
        form.model === 'loaded'
          ? { kind: 'loaded' }
          : { kind: 'preset', preset: form.preset, family: form.family },
      data:
        form.text === 'user'
          ? { kind: 'user', label: form.userLabel, text: form.userText }
          : { kind: form.text },
      seqLen,
      batch,
      steps,
      warmupSteps: warmup,
      decay: form.decay,
      validationEvery,
      validationWindows,
      seed: seed as number,
      arms,
    },
  };
}

/** The engine's message for a schedule it would refuse, capitalised for a field; null when it is fine. */
function engineCheck(schedule: Schedule): string | null {
  try {
    checkSchedule(schedule);
    return null;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.charAt(0).toUpperCase() + message.slice(1);
  }
}
