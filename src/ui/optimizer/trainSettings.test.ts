import { describe, expect, it } from 'vitest';
import { ARM_VARIANT_ORDER } from '../../train/armVariants';
import { buildTrainOptions, defaultTrainForm, type TrainForm } from './trainSettings';

const form = (patch: Partial<TrainForm> = {}): TrainForm => ({ ...defaultTrainForm(), ...patch });

describe('training settings', () => {
  it('builds the default form into the worker’s options: a preset and the four optimizers', () => {
    const built = buildTrainOptions(form(), null);
    if (!built.ok) throw new Error(JSON.stringify(built.errors));
    expect(built.options).toMatchObject({
      model: { kind: 'preset', preset: 'tiny', family: 'gpt2' },
      data: { kind: 'tinyshakespeare' },
      steps: 200,
      batch: 8,
      seqLen: 64,
      warmupSteps: 20,
      decay: 'cosine',
      validationEvery: 20,
      validationWindows: 8,
      seed: 0,
    });
    expect(built.options.arms).toEqual([
      { id: 'adamw', variant: 'adamw', lr: 3e-3 },
      { id: 'adafactor', variant: 'adafactor', lr: 3e-3 },
      { id: 'came', variant: 'came', lr: 1e-3 },
      { id: 'adapprox', variant: 'adapprox', lr: 3e-3 },
    ]);
  });

  it('says at the field what the engine would refuse a run for, in its words', () => {
    const f = form();
    f.arms = {
      ...f.arms,
      adamw: { on: true, lr: '5' },
      came: { on: true, lr: 'fast' },
      adafactor: { on: false, lr: '7' },
    };
    const built = buildTrainOptions({ ...f, warmup: '300' }, null);
    expect(built.ok).toBe(false);
    if (built.ok) return;
    expect(built.errors['lr-adamw']).toBe('The learning rate must lie in (0, 1], got 5');
    expect(built.errors['lr-came']).toBe('The learning rate must lie in (0, 1], got NaN');
    // An arm that is off is not checked.
    expect(built.errors['lr-adafactor']).toBeUndefined();
    expect(built.errors.warmup).toBe('Warm-up must be an integer number of steps in 0..200, got 300');
  });

  it('checks the window against the preset’s or the loaded model’s context', () => {
    const nano = buildTrainOptions(form({ preset: 'nano', seqLen: '128' }), null);
    expect(nano.ok ? null : nano.errors.seqLen).toBe(
      'A whole number of tokens from 2 to the model’s context (64).',
    );
    const loaded = { name: 'stories260K (built-in)', context: 512 };
    const fine = buildTrainOptions(form({ model: 'loaded', seqLen: '128' }), loaded);
    expect(fine.ok && fine.options.model).toEqual({ kind: 'loaded' });
    const none = buildTrainOptions(form({ model: 'loaded' }), null);
    expect(none.ok ? null : none.errors.model).toBe('Load a model in the Model section to fine-tune it.');
  });

  it('needs a text when training on the person’s own, and at least one arm', () => {
    const off = Object.fromEntries(
      ARM_VARIANT_ORDER.map((v) => [v, { on: false, lr: '1e-3' }]),
    ) as TrainForm['arms'];
    const built = buildTrainOptions(form({ text: 'user', userText: '  ', arms: off }), null);
    expect(built.ok).toBe(false);
    if (built.ok) return;
    expect(built.errors.userText).toBe('Paste the text to train on, or drop a .txt file here.');
    expect(built.errors.arms).toBe('Choose at least one optimizer.');
    const ok = buildTrainOptions(
      form({ text: 'user', userText: 'Once upon a time', userLabel: 'story.txt' }),
      null,
    );
    expect(ok.ok && ok.options.data).toEqual({ kind: 'user', label: 'story.txt', text: 'Once upon a time' });
  });

  it('refuses what is not a whole number or a seed', () => {
    const built = buildTrainOptions(
      form({ steps: '2.5', batch: '0', validationEvery: '', validationWindows: '-1', seed: '0x1ffffffff' }),
      null,
    );
    expect(built.ok ? [] : Object.keys(built.errors).sort()).toEqual([
      'batch',
      'seed',
      'steps',
      'validationEvery',
      'validationWindows',
    ]);
  });
});
