// `npm run results:sweep`: FISTAPruner's quality against its pruning time over the λ rounds T and
// the FISTA iterations K (docs/results/pruning.md, "Choosing the defaults"). Prunes the built-in
// stories260K with FISTAPruner (SparseGPT warm start, the studio's) for every T in RESULTS_ROUNDS
// (3,5,10) and K in RESULTS_ITERATIONS (20,50,100), at 50% unstructured and at 2:4, calibrated
// in-domain on TinyStories (32 × 256, seed 0), and scores each on the first RESULTS_SWEEP_WINDOWS
// (64) windows of TinyStories; the warm start alone is the curve's first point. Cheapest settings
// run first, so an interrupted sweep has the left of the curve; each run is saved at once
// (results-store.mjs) and a rerun resumes. Writes docs/results/pruning-sweep-table.md.

import { writeFileSync } from 'node:fs';
import { resultsStore } from './results-store.mjs';

const env = process.env;
const list = (v, d) => (v ?? d).split(',').map(Number);
const settings = {
  rounds: list(env.RESULTS_ROUNDS, '3,5,10'),
  iterations: list(env.RESULTS_ITERATIONS, '20,50,100'),
  patterns: ['50%', '2:4'],
  calibration: { source: 'tinystories', windows: 32, length: 256, seed: 0 },
  text: 'tinystories',
  seqLen: 512,
  evalWindows: Number(env.RESULTS_SWEEP_WINDOWS ?? 64),
};
const run = resultsStore('docs/results/pruning-sweep.json', settings);

const c = settings.calibration;
const common = (pattern) => [
  '--pattern',
  pattern,
  '--calibration',
  c.source,
  '--calibration-windows',
  String(c.windows),
  '--calibration-length',
  String(c.length),
  '--seed',
  String(c.seed),
  '--eval',
  settings.text,
  '--no-eval-before',
  '--seq-len',
  String(settings.seqLen),
  '--eval-windows',
  String(settings.evalWindows),
];

const grid = settings.rounds
  .flatMap((t) => settings.iterations.map((k) => ({ t, k })))
  .sort((a, b) => a.t * a.k - b.t * b.k || a.t - b.t);
const rows = [];
const missing = [];
for (const pattern of settings.patterns) {
  const key = `SparseGPT ${pattern}`;
  const r = run(key, ['prune', '--method', 'sparsegpt', ...common(pattern)]);
  if (r) rows.push({ pattern, label: 'SparseGPT (the warm start)', key, r });
}
for (const { t, k } of grid) {
  for (const pattern of settings.patterns) {
    const key = `FISTAPruner T=${t} K=${k} ${pattern}`;
    const r = run(key, [
      'prune',
      '--method',
      'fista',
      '--warm-start',
      'sparsegpt',
      '--rounds',
      String(t),
      '--iterations',
      String(k),
      ...common(pattern),
    ]);
    if (r) rows.push({ pattern, label: `FISTAPruner T = ${t}, K = ${k}`, key, r });
    else missing.push(key);
  }
}

// The prune time is the CLI's own (calibration to the pruned model, wall clock); the whole run's CPU
// seconds (evaluation included) and the load average around it say how much of that time was the
// shared machine's. Dispatches count the GPU work, which does not depend on the load.
const lines = [
  '| pattern | method | TinyStories ppl | prune time | dispatches | run CPU time | load (start → end) | improved operators |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const pattern of settings.patterns) {
  for (const { label, key, r } of rows.filter((row) => row.pattern === pattern)) {
    const matrices = r.summary.blocks.flatMap((b) => b.matrices);
    // An operator FISTA improved on ends with a λ (the λ search kept one of its rounds' results).
    const improved = matrices.filter((m) => m.lambda !== undefined).length;
    const m = run.measured(key);
    lines.push(
      `| ${pattern === '50%' ? '50% unstructured' : pattern} | ${label} | ${r.perplexity.after[settings.text].toFixed(3)} | ${(r.summary.ms / 1000).toFixed(0)} s | ${r.summary.counters?.dispatches ?? '–'} | ${m ? `${m.cpuS.toFixed(0)} s` : '–'} | ${m ? `${m.load[0].toFixed(1)} → ${m.load[1].toFixed(1)}` : '–'} | ${label.startsWith('SparseGPT') ? '—' : `${improved} of ${matrices.length}`} |`,
    );
  }
}
if (missing.length) lines.push('', `Not run yet: ${missing.join('; ')}.`);
writeFileSync('docs/results/pruning-sweep-table.md', `${lines.join('\n')}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
