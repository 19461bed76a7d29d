// `npm run results:prune`: the pruning results table of docs/results/pruning.md, reproduced.
// Runs the CLI (dist-node/cli.js, built by scripts/prune-results.sh) once per method and pattern on
// the built-in stories260K, measures perplexity on TinyStories and WikiText-2, and writes the table
// as Markdown and the raw records as JSON. Settings come from the environment so a faster machine
// can run the full protocol: RESULTS_EVAL_WINDOWS, RESULTS_CAL_WINDOWS, RESULTS_CAL_LENGTH.
// Each finished run is saved at once in docs/results/pruning.json; a rerun with the same settings
// reuses what is there (RESULTS_FRESH=1 starts over), so an interrupted run resumes.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const evalWindows = Number(process.env.RESULTS_EVAL_WINDOWS ?? 8);
const calWindows = Number(process.env.RESULTS_CAL_WINDOWS ?? 32);
const calLength = Number(process.env.RESULTS_CAL_LENGTH ?? 256);
const seqLen = 512;
const texts = ['tinystories', 'wikitext2'];

const runs = [
  { label: 'magnitude', args: ['--method', 'magnitude'] },
  { label: 'Wanda', args: ['--method', 'wanda'] },
  { label: 'SparseGPT', args: ['--method', 'sparsegpt'] },
  { label: 'FISTAPruner (SparseGPT start)', args: ['--method', 'fista', '--warm-start', 'sparsegpt'] },
  { label: 'FISTAPruner (Wanda start)', args: ['--method', 'fista', '--warm-start', 'wanda'] },
];
const patterns = ['50%', '2:4'];

const settings = {
  seqLen,
  evalWindows,
  calibration: { source: 'c4', windows: calWindows, length: calLength, seed: 0 },
};
const store = 'docs/results/pruning.json';
const previous =
  existsSync(store) && !process.env.RESULTS_FRESH ? JSON.parse(readFileSync(store, 'utf8')) : null;
const cache = new Map(
  previous && JSON.stringify(previous.settings) === JSON.stringify(settings)
    ? previous.records.map((r) => [r.key, r])
    : [],
);
const records = [];

/** The CLI's JSON for these arguments, from the cache or a fresh run (saved at once). */
function run(key, args) {
  const cached = cache.get(key);
  if (cached) return cached.result;
  process.stderr.write(`${key}\n`);
  const result = cli(args);
  records.push({ key, args, result });
  writeFileSync(
    store,
    `${JSON.stringify({ settings, records: [...cache.values(), ...records] }, null, 2)}\n`,
  );
  return result;
}

function cli(args) {
  const started = Date.now();
  const out = execFileSync('node', ['dist-node/cli.js', ...args, '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stderr.write(`  (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  return JSON.parse(out);
}

const common = ['--seq-len', String(seqLen), '--eval-windows', String(evalWindows)];
const dense = {};
for (const text of texts) {
  dense[text] = run(`dense ${text}`, [
    'eval',
    '--text',
    text,
    '--seq-len',
    String(seqLen),
    '--windows',
    String(evalWindows),
  ]).ppl;
}
const rows = [];
for (const pattern of patterns) {
  for (const method of runs) {
    if (process.env.RESULTS_ONLY && !new RegExp(process.env.RESULTS_ONLY).test(method.label)) continue;
    const r = run(`${method.label} ${pattern}`, [
      'prune',
      ...method.args,
      '--pattern',
      pattern,
      '--calibration',
      'c4',
      '--calibration-windows',
      String(calWindows),
      '--calibration-length',
      String(calLength),
      '--seed',
      '0',
      '--eval',
      texts.join(','),
      '--no-eval-before',
      ...common,
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
const lines = [
  '| method | pattern | sparsity | TinyStories ppl | WikiText-2 ppl | prune time |',
  '| --- | --- | ---: | ---: | ---: | ---: |',
  `| dense | — | 0% | ${fmt(dense.tinystories)} | ${fmt(dense.wikitext2)} | — |`,
  ...rows.map(
    (r) =>
      `| ${r.label} | ${r.pattern === '50%' ? '50% unstructured' : r.pattern} | ${(100 * r.sparsity).toFixed(2)}% | ${fmt(r.ppl.tinystories)} | ${fmt(r.ppl.wikitext2)} | ${(r.ms / 1000).toFixed(0)} s |`,
  ),
];
writeFileSync('docs/results/pruning-table.md', `${lines.join('\n')}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
