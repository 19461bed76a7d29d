import { describe, expect, it } from 'vitest';
import { pruneConfig } from '../../run/build';
import { buildTrainOptions, defaultTrainForm, type TrainForm } from '../optimizer/trainSettings';
import { buildOptions, defaultForm, type PruneForm } from '../pruning/pruneSettings';
import { STORIES_260K } from '../shell/testModelShape';
import { evalSettingsOfRecord, pruneFormOfRecord, trainFormOfRecord } from './recordConfig';

/** The studio's default pruning form for stories260K, with `patch` typed in. */
const pruneForm = (patch: Partial<PruneForm>): PruneForm => ({ ...defaultForm(STORIES_260K), ...patch });

function optionsOf(form: PruneForm) {
  const built = buildOptions(form, STORIES_260K);
  if (!built.ok) throw new Error(JSON.stringify(built.errors));
  return built.options;
}

/** A record's config and results as the studio writes them (recordBuild.ts), through JSON. */
function studioRecord(form: PruneForm) {
  const { prune, evaluation, devices } = optionsOf(form);
  const config = { prune: pruneConfig(prune), evaluation, ...(devices ? { devices } : {}) };
  return JSON.parse(JSON.stringify({ config, results: {} }));
}

describe('a record’s config as settings', () => {
  it('gives back the pruning form the studio’s options were built from', () => {
    const form = pruneForm({
      method: 'fista',
      pattern: 'nm',
      n: '2',
      m: '4',
      windows: '4',
      seqLen: '32',
      seed: '7',
      iterations: '4',
      rounds: '2',
      xi: '0.25',
      errorCorrection: false,
      evalText: 'tinystories',
      evalSeqLen: '64',
      evalWindows: '2',
      // Several devices are recorded beside the prune options and come back.
      devices: '2',
    });
    const { values, problems } = pruneFormOfRecord(studioRecord(form));
    expect(problems).toEqual([]);
    expect(pruneForm(values)).toEqual(form);
  });

  it('reads unstructured sparsity and no evaluation, and asks for a pasted text again', () => {
    const form = pruneForm({
      method: 'wanda',
      sparsity: '62.5',
      calibration: 'text',
      pastedText: 'Once upon a time.',
      evaluate: false,
    });
    const { values, problems } = pruneFormOfRecord(studioRecord(form));
    expect(values).toMatchObject({ method: 'wanda', sparsity: '62.5', evaluate: false });
    expect(values.pastedText).toBeUndefined();
    expect(problems).toEqual([
      'the run calibrated on a pasted text "pasted text", which records do not keep: paste it again',
    ]);
  });

  it('reads a CLI record: the engine’s options alone, the evaluated text from the results', () => {
    const { prune } = optionsOf(pruneForm({ method: 'magnitude', windows: '9' }));
    const { values, problems } = pruneFormOfRecord({
      config: JSON.parse(JSON.stringify(pruneConfig(prune))),
      results: { 'pplBefore.tinystories': 4.3, 'pplAfter.tinystories': 30.1 },
    });
    expect(problems).toEqual([]);
    expect(values).toMatchObject({
      method: 'magnitude',
      windows: '9',
      evaluate: true,
      evalText: 'tinystories',
    });
  });

  it('refuses values a link would refuse, and names them', () => {
    const { values, problems } = pruneFormOfRecord({
      config: {
        method: 'fista',
        pattern: { kind: 'nm', n: 2, m: 999 },
        calibration: { source: { kind: 'c4' }, windows: -1, seqLen: { evil: true }, seed: 1 },
        fista: { xi: 7 },
      },
      results: {},
    });
    expect(values).toEqual({ method: 'fista', pattern: 'nm', n: '2', calibration: 'c4', seed: '1' });
    expect(problems).toEqual([
      'config.m = "999": expected a whole number from 2 to 64',
      'config.windows = "-1": expected a whole number from 1 to 100000',
      'config.seqLen = "{\\"evil\\":true}": expected a whole number from 2 to 1000000',
      'config.xi = "7": expected a number greater than 0 and less than 1',
    ]);
  });

  it('reads the studio’s and the CLI’s evaluation options', () => {
    expect(
      evalSettingsOfRecord({ config: { text: 'tinystories', seqLen: 64, maxWindows: 2 }, results: {} }),
    ).toEqual({
      values: { text: 'tinystories', seqLen: 64, windows: 2 },
      problems: [],
    });
    // The CLI's eval command: `windows`, and no seqLen when the model's context was used.
    const cli = {
      config: { model: '/m', text: 'wikitext2', windows: 3, budgetGib: 4 },
      results: { seqLen: 512 },
    };
    expect(evalSettingsOfRecord(cli).values).toEqual({ text: 'wikitext2', seqLen: 512, windows: 3 });
    expect(
      evalSettingsOfRecord({ config: { text: 'wikitext2', seqLen: 128 }, results: {} }).values.windows,
    ).toBeNull();
    expect(evalSettingsOfRecord({ config: { text: 'c4', seqLen: 1 }, results: {} }).problems).toHaveLength(2);
  });

  it('gives back the training form the studio’s options were built from', () => {
    const defaults = defaultTrainForm();
    const form: TrainForm = {
      ...defaults,
      preset: 'nano',
      family: 'llama',
      text: 'tinystories',
      steps: '12',
      batch: '3',
      seqLen: '40',
      warmup: '2',
      decay: 'linear',
      validationEvery: '4',
      validationWindows: '5',
      seed: '11',
      arms: {
        ...defaults.arms,
        adafactor: { on: false, lr: '0.003' },
        came: { on: true, lr: '0.0005' },
        'adapprox-no-m': { on: true, lr: '0.02' },
      },
    };
    const built = buildTrainOptions(form, null);
    if (!built.ok) throw new Error(JSON.stringify(built.errors));
    const config = JSON.parse(JSON.stringify(built.options));
    const { values, problems } = trainFormOfRecord({ config });
    expect(problems).toEqual([]);
    // Rates come back as numbers spell them (0.0005 for '0.0005', 0.003 for '3e-3').
    const again = buildTrainOptions({ ...defaults, ...values }, null);
    expect(again).toEqual(built);
  });

  it('reads a CLI training record: its resolved options and its arms as studio variants', () => {
    const cli = {
      size: 'nano',
      family: 'gpt2',
      text: 'tinyshakespeare',
      arm: ['adamw@0.001', 'adafactor', 'adapprox:beta1=0', 'adapprox:kmin=2,kmax=2'],
      steps: 4,
      batch: 1,
      seqLen: 32,
      decay: 'cosine',
      minLrRatio: 0.1,
      valWindows: 2,
      valFraction: 0.1,
      seed: 0,
      resolved: {
        seqLen: 32,
        batch: 1,
        steps: 4,
        warmupSteps: 0,
        decay: 'cosine',
        minLrRatio: 0.1,
        validationEvery: 1,
        validationWindows: 2,
        seed: 0,
        arms: ['adamw@0.001', 'adafactor', 'adapprox:beta1=0', 'adapprox:kmin=2,kmax=2'],
      },
    };
    const { values, problems } = trainFormOfRecord({ config: cli });
    expect(problems).toEqual([
      'the arm adapprox:kmin=2,kmax=2 has settings no studio optimizer has; it is left out',
    ]);
    const on = Object.entries(values.arms ?? {}).filter(([, a]) => a.on);
    expect(on).toEqual([
      ['adamw', { on: true, lr: '0.001' }],
      ['adafactor-no-m', { on: true, lr: '0.003' }],
      ['adapprox-no-m', { on: true, lr: '0.003' }],
    ]);
    expect(values).toMatchObject({
      model: 'preset',
      preset: 'nano',
      steps: '4',
      warmup: '0',
      validationEvery: '1',
    });

    const tuned = trainFormOfRecord({
      config: {
        ...cli,
        from: '/models/m',
        textFile: '/t.txt',
        minLrRatio: 0.5,
        resolved: { ...cli.resolved, minLrRatio: 0.5 },
      },
    });
    expect(tuned.values).toMatchObject({ model: 'loaded', text: 'user' });
    expect(tuned.problems.slice(1)).toEqual([
      'the run fine-tuned the folder /models/m; load that model to do the same',
      'the run trained on the file /t.txt: drop it on the text field again',
      'the run decayed to 0.5 of the peak rate; the studio decays to 0.1',
    ]);
  });

  it('refuses a training record’s values as a link would, and asks for a pasted text again', () => {
    const { values, problems } = trainFormOfRecord({
      config: {
        model: { kind: 'preset', preset: 'huge', family: 'gpt2' },
        data: { kind: 'user', label: 'notes.txt' },
        steps: -1,
        arms: [{ id: 'x', variant: 'sgd', lr: 0.1 }, 7],
      },
    });
    expect(values).toEqual({ model: 'preset', family: 'gpt2', text: 'user' });
    expect(problems).toEqual([
      'config.arms: 7 is not an arm',
      'the run trained on your own text "notes.txt", which records do not keep: paste it again',
      'config.preset = "huge": expected one of nano, tiny, small, paper',
      'config.steps = "-1": expected a whole number from 1 to 1000000',
      expect.stringMatching(/^config\.arms = "sgd@0\.1": expected optimizers/),
    ]);
  });
});
