import { describe, expect, it } from 'vitest';
import { defaultTrainForm } from '../optimizer/trainSettings';
import { defaultForm } from '../pruning/pruneSettings';
import { STORIES_260K } from './testModelShape';
import { changedFields, changedTrainFields, decodeUrlState, encodeUrlState, type UrlState } from './urlState';

describe('URL state', () => {
  it('round-trips every setting through a link', () => {
    const state: UrlState = {
      panel: 'prune',
      demo: null,
      prune: {
        method: 'wanda',
        pattern: 'nm',
        sparsity: '62.5',
        n: '2',
        m: '4',
        warmStart: 'dense',
        calibration: 'tinystories',
        windows: '4',
        seqLen: '32',
        seed: '0x1f',
        iterations: '4',
        rounds: '2',
        xi: '0.25',
        thresholdGroup: 'matrix',
        errorCorrection: false,
        blockInputs: 'pruned',
        percdamp: '1e-2',
        evaluate: true,
        evalText: 'tinystories',
        evalSeqLen: '64',
        evalWindows: '',
      },
      eval: { text: 'tinystories', seqLen: 64, windows: null },
      train: {
        model: 'preset',
        preset: 'nano',
        family: 'llama',
        text: 'wikitext2',
        steps: '40',
        batch: '4',
        seqLen: '32',
        warmup: '0',
        decay: 'linear',
        validationEvery: '10',
        validationWindows: '3',
        seed: '7',
        arms: {
          ...defaultTrainForm().arms,
          adafactor: { on: false, lr: '0.003' },
          came: { on: false, lr: '0.001' },
          adamw: { on: true, lr: '1e-3' },
          'adapprox-k1': { on: true, lr: '0.01' },
        },
      },
    };
    const { search, hash } = encodeUrlState(state);
    expect(search).toContain(
      `train.arms=${encodeURIComponent('adamw@1e-3,adapprox@0.003,adapprox-k1@0.01')}`,
    );
    expect(hash).toBe('#prune');
    expect(search).toContain('prune.method=wanda');
    expect(search).toContain('eval.windows=all');
    expect(decodeUrlState(search, hash)).toEqual({ state, problems: [] });
  });

  it('writes only what differs from the model’s defaults, in a fixed order', () => {
    const defaults = defaultForm(STORIES_260K);
    const form = { ...defaults, windows: '4', method: 'magnitude' as const };
    const changed = changedFields(form, defaults);
    expect(changed).toEqual({ method: 'magnitude', windows: '4' });
    const { search } = encodeUrlState({
      panel: null,
      demo: 'fista-2-4',
      prune: changed,
      eval: { seqLen: 64 },
      train: {},
    });
    expect(search).toBe('?demo=fista-2-4&prune.method=magnitude&prune.windows=4&eval.seqLen=64');
  });

  it('writes the training fields that differ, never the person’s own text', () => {
    const defaults = defaultTrainForm();
    const form = {
      ...defaults,
      steps: '50',
      text: 'user' as const,
      userText: 'private words',
      arms: { ...defaults.arms, came: { on: false, lr: '0.001' } },
    };
    const changed = changedTrainFields(form, defaults);
    expect(Object.keys(changed)).toEqual(['steps', 'arms']);
    const { search } = encodeUrlState({ panel: null, demo: null, prune: {}, eval: {}, train: changed });
    expect(decodeURIComponent(search)).toBe(
      '?train.steps=50&train.arms=adamw@0.003,adafactor@0.003,adapprox@0.003',
    );
    expect(search).not.toContain('private');
    // An arm whose rate is edited but left off is not a change a link carries.
    const off = { ...defaults, arms: { ...defaults.arms, 'adapprox-k1': { on: false, lr: '0.5' } } };
    expect(changedTrainFields(off, defaults)).toEqual({});
  });

  it('refuses training arms it cannot read, and a text it does not carry', () => {
    const { state, problems } = decodeUrlState(
      `?train.arms=${encodeURIComponent('adamw@2,adapprox@0.003')}&train.text=user&train.steps=0&train.preset=huge&train.seed=9`,
      '',
    );
    expect(state.train).toEqual({ seed: '9' });
    expect(problems).toEqual([
      expect.stringMatching(/^train\.arms = "adamw@2,adapprox@0\.003": expected optimizers as variant@rate/),
      'train.text = "user": expected one of tinyshakespeare, tinystories, wikitext2',
      'train.steps = "0": expected a whole number from 1 to 1000000',
      'train.preset = "huge": expected one of nano, tiny, small, paper',
    ]);
    for (const arms of [
      '',
      'adamw',
      'adamw@0.1@2',
      'sgd@0.1',
      'adamw@0.1,adamw@0.2',
      '__proto__@0.1',
      'adamw@-1',
    ]) {
      const decoded = decodeUrlState(`?train.arms=${encodeURIComponent(arms)}`, '');
      expect(decoded.state.train).toEqual({});
      expect(decoded.problems).toHaveLength(1);
    }
  });

  it('reports and ignores bad values, keeping the good ones', () => {
    const { state, problems } = decodeUrlState(
      '?prune.method=fista&prune.windows=abc&prune.sparsity=100&prune.m=4&eval.seqLen=1&eval.text=wikitext2',
      '',
    );
    expect(state.prune).toEqual({ method: 'fista', m: '4' });
    expect(state.eval).toEqual({ text: 'wikitext2' });
    expect(problems).toEqual([
      'prune.windows = "abc": expected a whole number from 1 to 100000',
      'prune.sparsity = "100": expected a number greater than 0 and less than 100',
      'eval.seqLen = "1": expected a whole number from 2 to 1000000',
    ]);
  });

  it('survives hostile links without throwing or polluting anything', () => {
    const hostile = [
      '?__proto__=1&prune.__proto__=x&prune.constructor=y&eval.toString=z&prune.hasOwnProperty=1',
      `?prune.windows=${'9'.repeat(5000)}&prune.seed=${encodeURIComponent('1; DROP TABLE')}`,
      '?prune.windows=%D9%A1%D9%A2&prune.xi=NaN&prune.xi=0.2&prune.sparsity=Infinity&prune.n=-1&prune.m=1e1',
      '?demo=../../secrets&demo=https://evil.test/x&prune.method=<script>alert(1)</script>',
      '?%ZZ=%E0%A4%A&&=&prune.=&eval.windows=0&prune.evaluate=yes&prune.calibration=text',
      '?prune.seqLen=+2+&prune.percdamp=10.0000000000001&prune.evalWindows=',
    ];
    for (const search of hostile) {
      const { state, problems } = decodeUrlState(search, '#%E0%A4%A');
      expect(problems.length).toBeGreaterThan(0);
      expect(state.panel).toBeNull();
      for (const value of Object.values(state.prune)) expect(String(value).length).toBeLessThan(20);
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.getPrototypeOf(decodeUrlState(hostile[0] as string, '').state.prune)).toBe(
      Object.prototype,
    );
  });

  it('names each kind of problem so a person can fix the link', () => {
    const { state, problems } = decodeUrlState(
      '?prune.xi=0.2&prune.xi=0.9&bogus=1&demo=../x&prune.calibration=text',
      '#not%20a%20section',
    );
    expect(state.prune).toEqual({ xi: '0.2' });
    expect(state.demo).toBeNull();
    expect(problems).toEqual([
      '"bogus" is not a setting the studio knows',
      'demo = "../x": expected a demo name (letters, digits, - and _)',
      'prune.xi is given more than once; the first value is used',
      'prune.calibration = "text": expected one of c4, tinystories',
      '#"not a section" does not name a section of the studio',
    ]);
  });

  it('takes the empty link as no settings at all', () => {
    expect(decodeUrlState('', '')).toEqual({
      state: { panel: null, demo: null, prune: {}, eval: {}, train: {} },
      problems: [],
    });
    expect(encodeUrlState({ panel: null, demo: null, prune: {}, eval: {}, train: {} })).toEqual({
      search: '',
      hash: '',
    });
  });
});
