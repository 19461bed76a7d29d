import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The parts of src/ stand in floors, and code only imports from its own floor's parts or from
// lower floors: the engine never learns who hosts it, and a part can be read with only the floors
// beneath it in mind (docs/DESIGN.md, "Shape"). Parts on the same floor may import each other only
// where listed, so no circle can form. Tests and their helpers may also reach the Node host.
const FLOORS: Record<string, number> = {
  gpu: 0,
  // Named series of numbers (src/series/series.ts): plain data the engine emits, the hosts record
  // and the studio draws, so it sits below all of them and imports nothing.
  series: 0,
  // A setting's range and its words (src/bounds/bound.ts): pruning and training, which share a
  // floor and may not import each other, both write their bounds with it, and every host above
  // checks against them; so it sits at the bottom and imports nothing.
  bounds: 0,
  kernels: 1,
  sparse: 1,
  tokenizer: 2,
  model: 2,
  prune: 3,
  train: 3,
  run: 4,
  jobs: 4,
  // The browser's store of model folders opened by URL: it reads model/'s byte sources, and the
  // worker (5) that opens models uses it, as ui (6) lists and deletes through the worker.
  cache: 4,
  worker: 5,
  cli: 5,
  host: 5,
  offline: 6,
  ui: 6,
  // Property-based tests of every parser, the studio's included.
  fuzz: 7,
};
// jobs→run: a job hands its host the parts of its run record, built by run's builders; run never
// imports a job.
const SAME_FLOOR = new Set(['sparse→kernels', 'model→tokenizer', 'cli→host', 'ui→offline', 'jobs→run']);
const TEST_FILE = /\.test\.tsx?$|[tT]esting\.ts$/;

const src = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Every import of one part by another, as 'file: from → to'. */
function crossings(): { file: string; from: string; to: string; test: boolean }[] {
  const out: { file: string; from: string; to: string; test: boolean }[] = [];
  for (const file of sources(src)) {
    const from = relative(src, file).split('/')[0] as string;
    if (!(from in FLOORS)) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g)) {
      const target = relative(src, normalize(join(dirname(file), match[1] as string)));
      const to = target.split('/')[0] as string;
      if (to === from || target.startsWith('..')) continue;
      out.push({ file: relative(src, file), from, to, test: TEST_FILE.test(file) });
    }
  }
  return out;
}

describe('the import graph', () => {
  const all = crossings();

  it('knows every part of src/', () => {
    const parts = readdirSync(src, { withFileTypes: true }).filter((e) => e.isDirectory());
    expect(parts.map((e) => e.name).filter((p) => !(p in FLOORS))).toEqual([]);
  });

  it('has no arrow from a lower part to a higher one, and none across a floor but those listed', () => {
    const wrong = all
      .filter(({ from, to, test }) => {
        const up = (FLOORS[to] as number) > (FLOORS[from] as number);
        const across = FLOORS[to] === FLOORS[from] && !SAME_FLOOR.has(`${from}→${to}`);
        return (up || across) && !(test && to === 'host');
      })
      .map(({ file, from, to }) => `${file}: ${from} → ${to}`);
    expect(wrong).toEqual([]);
  });

  it('sees the crossings it checks (a broken parser would pass the test above vacuously)', () => {
    expect(all.some((c) => c.from === 'prune' && c.to === 'kernels')).toBe(true);
    expect(all.some((c) => c.from === 'ui' && c.to === 'worker')).toBe(true);
  });
});
