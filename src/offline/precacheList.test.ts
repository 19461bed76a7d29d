import { existsSync, readdirSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVAL_TEXTS } from '../model/evaluate';
import { CALIBRATION_TEXTS } from '../prune/calibration';
import { TRAIN_TEXTS } from '../train/data';
import { BUILTIN } from '../worker/modelJob';
import { FILE_NAVIGATION, PRECACHED_PUBLIC_FILES, precacheList, precacheListOfSite } from './precacheList';

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

  it('puts the page first and drops source maps and the service worker itself', () => {
    const list = precacheList(
      ['index.html', 'assets/index-abc.js', 'assets/index-abc.js.map', 'sw.js', 'assets/app-1.css'],
      ['demos/fista-2-4.json', 'demos/notes.txt'],
    );
    // index.html once, first: Workbox serves it for the site's root and as the navigation fallback.
    expect(list.slice(0, 3)).toEqual(['index.html', 'assets/app-1.css', 'assets/index-abc.js']);
    expect(list.filter((f) => f === 'index.html')).toHaveLength(1);
    expect(list).toContain('demos/fista-2-4.json');
    expect(list).not.toContain('demos/notes.txt');
    expect(list).not.toContain('sw.js');
    expect(list).not.toContain('assets/index-abc.js.map');
  });

  it('tells a built site’s bundle from its copied public files, and refuses a site missing a listed file', () => {
    const publicFiles = [...PRECACHED_PUBLIC_FILES, 'models/stories260K/stories260K.bin', 'demos/a.json'];
    const output = ['index.html', 'assets/index-abc.js', 'assets/index-abc.js.map', 'sw.js', ...publicFiles];
    const list = precacheListOfSite(output, publicFiles);
    expect(list).toEqual(['index.html', 'assets/index-abc.js', ...PRECACHED_PUBLIC_FILES, 'demos/a.json']);
    // A public file Workbox left out (over its size limit, say) is an error, not a quiet gap.
    const withoutModel = output.filter((f) => f !== 'models/stories260K/model.safetensors');
    expect(() => precacheListOfSite(withoutModel, publicFiles)).toThrow(
      'precache: the built site lacks models/stories260K/model.safetensors',
    );
  });

  it('leaves navigations to files to the network and sends every other one to the page', () => {
    // Workbox tests a navigation's path and query together.
    for (const path of ['/data/tinystories/valid-sample.txt', '/demos/a.json?x=1', '/sub/index.html'])
      expect(FILE_NAVIGATION.test(path)).toBe(true);
    for (const path of ['/', '/sub/', '/?demo=fista-2-4.json', '/?model=https://host/m/config.json'])
      expect(FILE_NAVIGATION.test(path)).toBe(false);
  });
});
