import { describe, expect, it } from 'vitest';
import { type Bound, inBound } from '../../bounds/bound';
import { edgeValues } from '../../bounds/testing';
import { freshSeed, Random } from '../../kernels/random';
import { tinyConfig } from '../../model/testModels';
import { checkTrainOptions } from '../../train/job';
import { TRAIN_BOUNDS, type TrainOptions } from '../../train/options';
import { TRAIN_FIELDS } from '../shell/urlState';
import { buildTrainOptions, defaultTrainForm, type TrainField, type TrainForm } from './trainSettings';

// Every training bound is written once (TRAIN_BOUNDS) and enforced alike by the engine
// (checkTrainOptions), the Optimizer panel's form and the link parser: each is driven with the
// bound's ends, one past each end and fresh values, and must accept exactly what inBound accepts.
// The other settings around the one under test leave it room: no warm-up (the run may be one step
// long), the steps at their largest (the warm-up may be as long as the largest run), a model
// context beyond the longest window.

type Key = keyof typeof TRAIN_BOUNDS;
/** The bounds of settings the form and links carry; the other two only the CLI sets. */
type Carried = Exclude<Key, 'minLrRatio' | 'validationFraction'>;

const ARM = { id: 'adamw', label: 'AdamW', optimizer: { kind: 'adamw' }, lr: 3e-3 } as const;

/** The run the engine is asked for, with `key` set to `value`. */
function engineAccepts(key: Carried, value: number): boolean {
  const options: TrainOptions = {
    seqLen: 64,
    batch: 8,
    steps: TRAIN_BOUNDS.steps.max,
    warmupSteps: 0,
    decay: 'cosine',
    validationEvery: 20,
    validationWindows: 8,
    seed: 0,
    arms: [key === 'lr' ? { ...ARM, lr: value } : ARM],
  };
  if (key !== 'lr') options[key] = value;
  const config = tinyConfig('gpt2', { maxPositions: TRAIN_BOUNDS.seqLen.max + 1 });
  try {
    checkTrainOptions(options, config);
    return true;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return false;
  }
}

/** The form's field for each bound it carries. */
const FORM_FIELD: Record<Carried, TrainField> = {
  steps: 'steps',
  batch: 'batch',
  seqLen: 'seqLen',
  warmupSteps: 'warmup',
  validationEvery: 'validationEvery',
  validationWindows: 'validationWindows',
  lr: 'lr-adamw',
};

function formAccepts(key: Carried, text: string): boolean {
  const form: TrainForm = {
    ...defaultTrainForm(),
    model: 'loaded',
    steps: String(TRAIN_BOUNDS.steps.max),
    warmup: '0',
  };
  if (key === 'lr') {
    const off = Object.entries(form.arms).map(([v, arm]) => [v, { ...arm, on: false }]);
    form.arms = { ...Object.fromEntries(off), adamw: { on: true, lr: text } } as TrainForm['arms'];
  } else (form as unknown as Record<string, string>)[FORM_FIELD[key]] = text;
  const built = buildTrainOptions(form, { name: 'a long model', context: TRAIN_BOUNDS.seqLen.max + 1 });
  return built.ok || built.errors[FORM_FIELD[key]] === undefined;
}

function linkAccepts(key: Carried, text: string): boolean {
  const parsed =
    key === 'lr'
      ? TRAIN_FIELDS.arms(`adamw@${text}`)
      : TRAIN_FIELDS[FORM_FIELD[key] as Exclude<TrainField, `lr-${string}` | 'userText' | 'userLabel'>](text);
  return !(typeof parsed === 'object' && parsed !== null && 'refused' in parsed);
}

describe('every training bound', () => {
  it('is carried by the form and the links, or is one the CLI alone sets (checked in src/cli)', () => {
    const cliOnly = Object.keys(TRAIN_BOUNDS).filter((k) => !(k in FORM_FIELD));
    expect(cliOnly).toEqual(['minLrRatio', 'validationFraction']);
  });

  const seed = freshSeed();
  const random = new Random(seed);
  for (const key of Object.keys(FORM_FIELD) as Carried[]) {
    const bound: Bound = TRAIN_BOUNDS[key];
    it(`${key}: the engine, the form and the link accept exactly the values within it (seed ${seed})`, () => {
      for (const v of edgeValues(bound, () => random.next())) {
        const text = String(v);
        const want = inBound(bound, Number(text));
        const got = {
          engine: engineAccepts(key, Number(text)),
          form: formAccepts(key, text),
          link: linkAccepts(key, text),
        };
        expect(got, `${key} = ${text}`).toEqual({ engine: want, form: want, link: want });
      }
    });
  }
});
