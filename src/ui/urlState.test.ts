import { describe, expect, it } from 'vitest';
import { defaultForm } from './pruneSettings';
import { changedFields, decodeUrlState, encodeUrlState, type UrlState } from './urlState';

const stories260K = {
  family: 'llama' as const,
  context: 512,
  parameters: 260_000,
  hidden: 64,
  heads: 8,
  headDim: 8,
  ffnHidden: 172,
  defaultSeqLen: 512,
};

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
    };
    const { search, hash } = encodeUrlState(state);
    expect(hash).toBe('#prune');
    expect(search).toContain('prune.method=wanda');
    expect(search).toContain('eval.windows=all');
    expect(decodeUrlState(search, hash)).toEqual({ state, problems: [] });
  });

  it('writes only what differs from the model’s defaults, in a fixed order', () => {
    const defaults = defaultForm(stories260K);
    const form = { ...defaults, windows: '4', method: 'magnitude' as const };
    const changed = changedFields(form, defaults);
    expect(changed).toEqual({ method: 'magnitude', windows: '4' });
    const { search } = encodeUrlState({
      panel: null,
      demo: 'fista-2-4',
      prune: changed,
      eval: { seqLen: 64 },
    });
    expect(search).toBe('?demo=fista-2-4&prune.method=magnitude&prune.windows=4&eval.seqLen=64');
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
      state: { panel: null, demo: null, prune: {}, eval: {} },
      problems: [],
    });
    expect(encodeUrlState({ panel: null, demo: null, prune: {}, eval: {} })).toEqual({
      search: '',
      hash: '',
    });
  });
});
