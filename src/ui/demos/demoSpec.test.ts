import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDemo, parseDemoText } from './demoSpec';

const BASE = 'https://studio.test/app/demos/x.json';
const demosDir = new URL('../../../public/demos/', import.meta.url);

const valid = {
  format: 'compression-studio/demo',
  version: 1,
  title: 'A demo',
  job: 'prune',
  settings: { method: 'fista', pattern: 'nm', n: 2, m: 4, windows: 8, errorCorrection: false },
};

describe('demo files', () => {
  it('every shipped demo is valid, and the demos cover pruning and training', () => {
    const files = readdirSync(demosDir).filter((f) => f.endsWith('.json'));
    const kinds = new Set<string>();
    for (const file of files) {
      const spec = parseDemo(JSON.parse(readFileSync(new URL(file, demosDir), 'utf8')), BASE);
      expect(spec.title.length).toBeGreaterThan(0);
      expect(parseDemoText(spec.text).length).toBeGreaterThan(0);
      kinds.add(spec.job.kind);
    }
    expect(kinds).toEqual(new Set(['prune', 'train']));
  });

  it('takes settings as a link spells them, and a model URL relative to the file', () => {
    const spec = parseDemo({ ...valid, model: { url: '../models/m/' }, autoRun: false }, BASE);
    expect(spec.job).toEqual({
      kind: 'prune',
      settings: { method: 'fista', pattern: 'nm', n: '2', m: '4', windows: '8', errorCorrection: false },
    });
    expect(spec.model).toEqual({ kind: 'url', url: 'https://studio.test/app/models/m/' });
    expect(spec.autoRun).toBe(false);
    expect(parseDemo({ ...valid, job: 'eval', settings: { windows: null } }, BASE).job).toEqual({
      kind: 'eval',
      settings: { windows: null },
    });
    const train = parseDemo({ ...valid, job: 'train', settings: { steps: 4, arms: 'came@1e-3' } }, BASE);
    expect(train.job.kind).toBe('train');
    const arms = train.job.kind === 'train' ? train.job.settings.arms : undefined;
    expect(arms?.came).toEqual({ on: true, lr: '1e-3' });
    expect(Object.values(arms ?? {}).filter((a) => a.on)).toHaveLength(1);
  });

  it.each([
    [[], 'does not hold a JSON object'],
    [{ ...valid, format: 'x' }, '"format" must be "compression-studio/demo"'],
    [{ ...valid, version: 2 }, 'version 2 is not supported'],
    [{ ...valid, title: ' ' }, '"title" must be a non-empty string'],
    [{ ...valid, link: 'javascript:alert(1)' }, '"link" must be an http(s) address'],
    [{ ...valid, model: { url: 'file:///etc/passwd' } }, 'model.url must be an http(s) address'],
    [{ ...valid, model: 'mine' }, '"model" must be "builtin"'],
    [{ ...valid, job: 'distill' }, '"job" must be "prune", "eval" or "train"'],
    [{ ...valid, job: 'train', settings: { arms: 'adamw@3' } }, 'settings.arms = "adamw@3"'],
    [{ ...valid, settings: { windows: 0, bogus: 1 } }, 'settings.windows = "0"'],
    [{ ...valid, settings: { xi: [1] } }, 'settings.xi must be a string, a number or true/false'],
    [{ ...valid, text: 'x'.repeat(10_001) }, '"text" is 10001 characters long'],
    [{ ...valid, autoRun: 'yes' }, '"autoRun" must be true or false'],
  ])('refuses %j, saying %s', (value, message) => {
    expect(() => parseDemo(value, BASE)).toThrow(message);
  });
});

describe('demo text', () => {
  it('splits paragraphs and marks bold, italic, code and http(s) links', () => {
    expect(
      parseDemoText('**Bold** and *it* with `x`,\nsee [paper](https://a.test/p).\n\n  Second  '),
    ).toEqual([
      [
        { kind: 'strong', text: 'Bold' },
        { kind: 'text', text: ' and ' },
        { kind: 'em', text: 'it' },
        { kind: 'text', text: ' with ' },
        { kind: 'code', text: 'x' },
        { kind: 'text', text: ', see ' },
        { kind: 'link', text: 'paper', href: 'https://a.test/p' },
        { kind: 'text', text: '.' },
      ],
      [{ kind: 'text', text: 'Second' }],
    ]);
  });

  it('keeps anything else as plain text: other link schemes, markup, stray stars', () => {
    const pieces = parseDemoText('[x](javascript:alert(1)) <img src=x onerror=alert(1)> 2 * 3 = 6').flat();
    expect(pieces.every((p) => p.kind === 'text')).toBe(true);
    expect(pieces.map((p) => p.text).join('')).toBe(
      '[x](javascript:alert(1)) <img src=x onerror=alert(1)> 2 * 3 = 6',
    );
  });
});
