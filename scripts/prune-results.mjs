// `npm run results:prune`: the pruning results tables of docs/results/pruning.md, reproduced.
// Runs the CLI (dist-node/cli.js, built by scripts/prune-results.sh) once per method and pattern on
// the built-in stories260K and measures perplexity on the evaluation texts. Settings come from the
// environment so a faster machine can run the full protocol:
// - RESULTS_CALIBRATION: c4 (default; the table `pruning-table.md`) or tinystories (in-domain: the
//   text the model was trained on; the table `pruning-table-tinystories.md`);
// - RESULTS_TEXTS: the evaluation texts, comma-separated (default tinystories,wikitext2);
// - RESULTS_EVAL_WINDOWS: windows scored per text, or `all` (default 8);
// - RESULTS_CAL_WINDOWS, RESULTS_CAL_LENGTH: calibration windows and their length (32 × 256).
// Each finished run is saved at once (results-store.mjs), so an interrupted run resumes.

import { writeFileSync } from 'node:fs';
import { resultsStore } from './results-store.mjs';

const env = process.env;
const source = env.RESULTS_CALIBRATION ?? 'c4';
const evalWindows = env.RESULTS_EVAL_WINDOWS === 'all' ? null : Number(env.RESULTS_EVAL_WINDOWS ?? 8);
const calWindows = Number(env.RESULTS_CAL_WINDOWS ?? 32);
const calLength = Number(env.RESULTS_CAL_LENGTH ?? 256);
const texts = (env.RESULTS_TEXTS ?? 'tinystories,wikitext2').split(',');
const seqLen = 512;
const TEXT_LABELS = { tinystories: 'TinyStories', wikitext2: 'WikiText-2' };

const runs = [
  { label: 'magnitude', args: ['--method', 'magnitude'] },
  { label: 'Wanda', args: ['--method', 'wanda'] },
  { label: 'SparseGPT', args: ['--method', 'sparsegpt'] },
  { label: 'FISTAPruner (SparseGPT start)', args: ['--method', 'fista', '--warm-start', 'sparsegpt'] },
  { label: 'FISTAPruner (Wanda start)', args: ['--method', 'fista', '--warm-start', 'wanda'] },
  // The studio's default λ rounds and iterations (STUDIO_FISTA in src/prune/options.ts, chosen
  // from the sweep in docs/results/pruning.md); the rows above keep the paper's T = 3, K = 20.
  {
    label: 'FISTAPruner, studio T = 10 (SparseGPT start)',
    args: ['--method', 'fista', '--warm-start', 'sparsegpt', '--rounds', '10', '--iterations', '20'],
  },
];
const patterns = ['50%', '2:4'];

// The C4 table's settings keep the shape its saved runs were keyed by.
const settings = {
  seqLen,
  evalWindows,
  calibration: { source, windows: calWindows, length: calLength, seed: 0 },
  ...(texts.join(',') === 'tinystories,wikitext2' ? {} : { texts }),
};
const suffix = source === 'c4' ? '' : `-${source}`;
const run = resultsStore(`docs/results/pruning${suffix}.json`, settings);

const windowArgs = (flag) => (evalWindows === null ? [] : [flag, String(evalWindows)]);
const dense = {};
for (const text of texts) {
  dense[text] = run(`dense ${text}`, [
    'eval',
    '--text',
    text,
    '--seq-len',
    String(seqLen),
    ...windowArgs('--windows'),
  ]).ppl;
}
const rows = [];
for (const pattern of patterns) {
  for (const method of runs) {
    if (env.RESULTS_ONLY && !new RegExp(env.RESULTS_ONLY).test(method.label)) continue;
    const r = run(`${method.label} ${pattern}`, [
      'prune',
      ...method.args,
      '--pattern',
      pattern,
      '--calibration',
      source,
      '--calibration-windows',
      String(calWindows),
      '--calibration-length',
      String(calLength),
      '--seed',
      '0',
      '--eval',
      texts.join(','),
      '--no-eval-before',
      '--seq-len',
      String(seqLen),
      ...windowArgs('--eval-windows'),
    ]);
    rows.push({
      label: method.label,
      pattern,
      sparsity: r.summary.sparsity,
      ppl: r.perplexity.after,
      ms: r.summary.ms,
    });
  }
}

const fmt = (x) => (x === undefined ? '—' : x.toFixed(3));
const pplColumns = texts.map((t) => `${TEXT_LABELS[t] ?? t} ppl`);
const lines = [
  `| method | pattern | sparsity | ${pplColumns.join(' | ')} | prune time |`,
  `| --- | --- | ---: | ${texts.map(() => '---:').join(' | ')} | ---: |`,
  `| dense | — | 0% | ${texts.map((t) => fmt(dense[t])).join(' | ')} | — |`,
  ...rows.map(
    (r) =>
      `| ${r.label} | ${r.pattern === '50%' ? '50% unstructured' : r.pattern} | ${(100 * r.sparsity).toFixed(2)}% | ${texts.map((t) => fmt(r.ppl[t])).join(' | ')} | ${(r.ms / 1000).toFixed(0)} s |`,
  ),
];
writeFileSync(`docs/results/pruning-table${suffix}.md`, `${lines.join('\n')}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
