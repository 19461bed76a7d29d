import { describe, expect, it } from 'vitest';
import { PAPER_FISTA } from '../../prune/options';
import { STORIES_260K } from '../shell/testModelShape';
import {
  buildOptions,
  defaultForm,
  describeMethod,
  describePattern,
  devicesOffered,
  devicesUnavailable,
  FISTA_PRESETS,
  fieldHints,
  isFistaPreset,
  type ModelShape,
  withMethod,
} from './pruneSettings';

/** An OPT-125M-like shape. */
const OPT: ModelShape = {
  ...STORIES_260K,
  family: 'opt',
  context: 2048,
  parameters: 125_000_000,
  hidden: 768,
  heads: 12,
  headDim: 64,
  ffnHidden: 3072,
  defaultSeqLen: 2048,
};

describe('the pruning form', () => {
  it('defaults to the paper’s settings with 10 λ rounds, calibration scaled to a small model', () => {
    const built = buildOptions(defaultForm(STORIES_260K), STORIES_260K);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    const { prune, evaluation } = built.options;
    expect(prune.method).toBe('fista');
    expect(prune.pattern).toEqual({ kind: 'unstructured', sparsity: 0.5 });
    expect(prune.calibration).toEqual({ source: { kind: 'c4' }, windows: 32, seqLen: 256, seed: 0 });
    expect(prune.fista).toMatchObject({
      iterations: 20,
      rounds: 10,
      xi: 0.3,
      thresholdGroup: 'row',
      errorCorrection: true,
    });
    expect(prune.sparsegpt.percdamp).toBe(0.01);
    expect(prune.blockInputs).toBe('dense');
    expect(evaluation).toEqual({ text: 'wikitext2', seqLen: 512 });

    const opt = buildOptions(defaultForm(OPT), OPT);
    expect(opt.ok && opt.options.prune.calibration).toEqual({
      source: { kind: 'c4' },
      windows: 128,
      seqLen: 1024,
      seed: 0,
    });
  });

  it('offers the studio’s FISTAPruner settings and the paper’s as one-click presets', () => {
    const form = defaultForm(STORIES_260K);
    const [studio, paper] = FISTA_PRESETS;
    expect(isFistaPreset(form, studio.fields)).toBe(true);
    expect(isFistaPreset(form, paper.fields)).toBe(false);
    const asPaper = { ...form, ...paper.fields };
    expect(isFistaPreset(asPaper, paper.fields)).toBe(true);
    const built = buildOptions(asPaper, STORIES_260K);
    expect(built.ok && built.options.prune.fista).toEqual({ ...PAPER_FISTA });
    // One field off a preset is no longer that preset.
    expect(isFistaPreset({ ...asPaper, iterations: '21' }, paper.fields)).toBe(false);
  });

  it('explains where our defaults differ from the paper', () => {
    const small = fieldHints(STORIES_260K);
    expect(small.windows?.paper).toBe('128');
    expect(small.windows?.ours).toMatch(/^32:/);
    expect(small.seqLen?.ours).toMatch(/^256:/);
    expect(small.iterations).toEqual({ paper: '20' });
    expect(small.warmStart?.ours).toMatch(/SparseGPT/);
    expect(fieldHints(OPT).warmStart?.ours).toBeUndefined();
  });

  it('builds N:M, the tiny e2e settings, and a pasted calibration text', () => {
    const form = {
      ...defaultForm(STORIES_260K),
      pattern: 'nm' as const,
      n: '2',
      m: '4',
      windows: '4',
      seqLen: '32',
      iterations: '4',
      rounds: '2',
      evalText: 'tinystories' as const,
      evalSeqLen: '64',
      evalWindows: '2',
      calibration: 'text' as const,
      pastedText: 'Once upon a time.',
      seed: '0x10',
    };
    const built = buildOptions(form, STORIES_260K);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.options.prune.pattern).toEqual({ kind: 'nm', n: 2, m: 4 });
    expect(built.options.prune.calibration).toEqual({
      source: { kind: 'text', text: 'Once upon a time.', label: 'pasted text' },
      windows: 4,
      seqLen: 32,
      seed: 16,
    });
    expect(built.options.prune.fista).toMatchObject({ iterations: 4, rounds: 2 });
    expect(built.options.evaluation).toEqual({ text: 'tinystories', seqLen: 64, maxWindows: 2 });
    expect(buildOptions({ ...form, evaluate: false }, STORIES_260K)).toMatchObject({
      ok: true,
      options: { evaluation: null },
    });
  });

  it('names every wrong field', () => {
    const base = defaultForm(STORIES_260K);
    const errors = (patch: Partial<typeof base>) => {
      const built = buildOptions({ ...base, ...patch }, STORIES_260K);
      return built.ok ? {} : built.errors;
    };
    expect(errors({ sparsity: '100' })).toHaveProperty('sparsity');
    expect(errors({ sparsity: '' })).toHaveProperty('sparsity');
    expect(errors({ pattern: 'nm', n: '4', m: '4' })).toHaveProperty('n');
    // stories260K's down projection has 172 inputs: 4:8 cannot tile it.
    expect(errors({ pattern: 'nm', n: '4', m: '8' }).m).toMatch(/172 inputs of down/);
    expect(errors({ pattern: 'nm', n: '4', m: '8' }).m).toMatch(/M = 8/);
    expect(buildOptions({ ...defaultForm(OPT), pattern: 'nm', n: '4', m: '8' }, OPT).ok).toBe(true);
    expect(
      buildOptions({ ...defaultForm(OPT), method: 'wanda', pattern: 'nm', n: '2', m: '128' }, OPT),
    ).toMatchObject({
      ok: false,
      errors: { m: 'The mask kernels take groups of at most 64.' },
    });
    expect(errors({ seqLen: '513' })).toHaveProperty('seqLen');
    expect(errors({ windows: '0' })).toHaveProperty('windows');
    expect(errors({ windows: '2.5' })).toHaveProperty('windows');
    expect(errors({ seed: '-1' })).toHaveProperty('seed');
    expect(errors({ xi: '1' })).toHaveProperty('xi');
    expect(errors({ iterations: '0' })).toHaveProperty('iterations');
    expect(errors({ calibration: 'text', pastedText: '  ' })).toHaveProperty('pastedText');
    expect(errors({ evalWindows: '0' })).toHaveProperty('evalWindows');
    expect(errors({ evalSeqLen: '1' })).toHaveProperty('evalSeqLen');
    // FISTA's settings do not block a baseline, nor damping a method without SparseGPT.
    expect(errors({ method: 'magnitude', xi: 'x', percdamp: '0' })).toEqual({});
    expect(errors({ method: 'sparsegpt', percdamp: '0' })).toHaveProperty('percdamp');
  });

  it('switches block inputs with the method, and describes runs', () => {
    const form = withMethod(defaultForm(STORIES_260K), 'wanda');
    expect(form.blockInputs).toBe('pruned');
    const built = buildOptions(form, STORIES_260K);
    if (!built.ok) throw new Error('unexpected');
    expect(describeMethod(built.options.prune)).toBe('Wanda');
    expect(describeMethod({ ...built.options.prune, method: 'fista' })).toBe('FISTAPruner (SparseGPT start)');
    expect(describePattern({ kind: 'nm', n: 2, m: 4 })).toBe('2:4');
    expect(describePattern({ kind: 'unstructured', sparsity: 0.5 })).toBe('50% unstructured');
  });

  it('offers devices from the room, refuses more, and several where the block inputs are the pruned model’s', () => {
    const form = defaultForm(STORIES_260K);
    const room = { cores: 4, budgetBytes: 1e9, peakBytes: 4e8 };
    // The default is one device, and a one-device run's options say nothing of devices.
    const one = buildOptions(form, STORIES_260K, room);
    expect(one.ok && one.options.devices).toBe(undefined);
    const two = buildOptions({ ...form, devices: '2' }, STORIES_260K, room);
    expect(two.ok && two.options.devices).toBe(2);
    // 1 GB holds two blocks of 400 MB.
    expect(devicesOffered(room)).toBe(2);
    expect(buildOptions({ ...form, devices: '3' }, STORIES_260K, room)).toMatchObject({
      ok: false,
      errors: { devices: expect.stringMatching(/At most 2/) },
    });
    expect(buildOptions({ ...form, devices: 'two' }, STORIES_260K, room)).toMatchObject({
      ok: false,
      errors: { devices: expect.stringMatching(/whole number/) },
    });
    const pruned = { ...form, devices: '2', blockInputs: 'pruned' as const };
    expect(devicesUnavailable(pruned)).toMatch(/One device only/);
    expect(buildOptions(pruned, STORIES_260K, room)).toMatchObject({
      ok: false,
      errors: { devices: expect.stringMatching(/dense block inputs/) },
    });
    // A baseline method goes back to one device instead of an error.
    expect(withMethod({ ...form, devices: '2' }, 'wanda').devices).toBe('1');
    expect(withMethod({ ...form, devices: '2' }, 'fista').devices).toBe('2');
  });
});
