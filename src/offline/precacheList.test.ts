import { existsSync, readdirSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVAL_TEXTS } from '../model/evaluate';
import { CALIBRATION_TEXTS } from '../prune/calibration';
import { TRAIN_TEXTS } from '../train/data';
import { BUILTIN } from '../worker/modelJob';
import { PRECACHED_PUBLIC_FILES, precacheList } from './precacheList';

const publicDir = new URL('../../public/', import.meta.url);

describe('precache list', () => {
  it('holds every file the studio fetches from its own site, and each exists', () => {
    // The training presets' tokenizer is the built-in model's tok512.bin, among BUILTIN's files.
    const fetched = [
      ...BUILTIN.files.map((f) => `${BUILTIN.folder}${f}`),
      ...Object.values(EVAL_TEXTS).map((t) => t.file),
      ...Object.values(CALIBRATION_TEXTS).map((t) => t.file),
      ...Object.values(TRAIN_TEXTS).map((t) => t.file),
    ];
    for (const file of fetched) expect(PRECACHED_PUBLIC_FILES).toContain(file);
    for (const file of PRECACHED_PUBLIC_FILES) expect(existsSync(new URL(file, publicDir))).toBe(true);
  });

  it('leaves out what the studio never fetches, and stays under 8 MB', () => {
    const walk = (dir: URL, prefix = ''): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
      );
    const all = walk(publicDir);
    const left = all.filter((f) => !(PRECACHED_PUBLIC_FILES as readonly string[]).includes(f));
    expect(left).toContain('models/stories260K/stories260K.bin');
    expect(left.filter((f) => f.startsWith('tokenizers/')).length).toBeGreaterThan(0);
    const bytes = PRECACHED_PUBLIC_FILES.reduce((n, f) => n + statSync(new URL(f, publicDir)).size, 0);
    expect(bytes).toBeLessThan(8 * 2 ** 20);
  });

  it('puts the root first and drops source maps, the HTML file and the service worker itself', () => {
    const list = precacheList(
      ['index.html', 'assets/index-abc.js', 'assets/index-abc.js.map', 'sw.js', 'assets/app-1.css'],
      ['demos/fista-2-4.json', 'demos/notes.txt'],
    );
    expect(list.slice(0, 3)).toEqual(['./', 'assets/app-1.css', 'assets/index-abc.js']);
    expect(list).toContain('demos/fista-2-4.json');
    expect(list).not.toContain('demos/notes.txt');
    expect(list).not.toContain('sw.js');
    expect(list).not.toContain('index.html');
  });
});
