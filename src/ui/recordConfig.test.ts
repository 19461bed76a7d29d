import { describe, expect, it } from 'vitest';
import { buildOptions, defaultForm, type PruneForm } from './pruneSettings';
import { evalSettingsOfConfig, pruneFormOfConfig } from './recordConfig';

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

function optionsOf(form: PruneForm) {
  const built = buildOptions(form, stories260K);
  if (!built.ok) throw new Error(JSON.stringify(built.errors));
  return built.options;
}

describe('a record’s config as settings', () => {
  it('gives back the pruning form the options were built from', () => {
    const form: PruneForm = {
      ...defaultForm(stories260K),
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
    };
    const config = JSON.parse(JSON.stringify(optionsOf(form)));
    const { values, problems } = pruneFormOfConfig(config);
    expect(problems).toEqual([]);
    expect({ ...defaultForm(stories260K), ...values }).toEqual(form);
  });

  it('reads unstructured sparsity, a pasted calibration text, and no evaluation', () => {
    const form: PruneForm = {
      ...defaultForm(stories260K),
      method: 'wanda',
      sparsity: '62.5',
      calibration: 'text',
      pastedText: 'Once upon a time.',
      evaluate: false,
    };
    const { values, problems } = pruneFormOfConfig(JSON.parse(JSON.stringify(optionsOf(form))));
    expect(problems).toEqual([]);
    expect(values).toMatchObject({
      sparsity: '62.5',
      calibration: 'text',
      pastedText: 'Once upon a time.',
      evaluate: false,
    });
  });

  it('reads the engine’s PruneOptions alone, as another producer may write them', () => {
    const { prune } = optionsOf({ ...defaultForm(stories260K), method: 'magnitude', windows: '9' });
    const { values, problems } = pruneFormOfConfig(JSON.parse(JSON.stringify(prune)));
    expect(problems).toEqual([]);
    expect(values).toMatchObject({ method: 'magnitude', windows: '9' });
    expect(values.evaluate).toBeUndefined();
  });

  it('refuses values a link would refuse, and names them', () => {
    const { values, problems } = pruneFormOfConfig({
      method: 'fista',
      pattern: { kind: 'nm', n: 2, m: 999 },
      calibration: { source: { kind: 'text' }, windows: -1, seqLen: { evil: true }, seed: 1 },
      fista: { xi: 7 },
    });
    expect(values).toEqual({ method: 'fista', pattern: 'nm', n: '2', seed: '1' });
    expect(problems).toEqual([
      'config.m = "999": expected a whole number from 2 to 64',
      'config.windows = "-1": expected a whole number from 1 to 100000',
      'config.seqLen = "{\\"evil\\":true}": expected a whole number from 2 to 1000000',
      'config.xi = "7": expected a number greater than 0 and less than 1',
      'config.calibration is a pasted text, but the record does not hold the text',
    ]);
  });

  it('reads an evaluation’s options', () => {
    expect(evalSettingsOfConfig({ text: 'tinystories', seqLen: 64, maxWindows: 2 })).toEqual({
      values: { text: 'tinystories', seqLen: 64, windows: 2 },
      problems: [],
    });
    expect(evalSettingsOfConfig({ text: 'wikitext2', seqLen: 128 }).values.windows).toBeNull();
    expect(evalSettingsOfConfig({ text: 'c4', seqLen: 1 }).problems).toHaveLength(2);
  });
});
