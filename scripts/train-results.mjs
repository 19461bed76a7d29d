// `npm run results:train`: the optimizer comparison of docs/results/training.md, reproduced.
// Protocol (docs/algorithms/adapprox.md §4, scaled to a CPU adapter): a GPT-2-style model of the given preset trained
// from scratch on Tiny Shakespeare (tok512), every arm on the same batches. First a learning-rate
// grid on seed 0 (each optimizer gets its best peak lr, as adapprox.md §4 asks, instead of one shared
// value), then the remaining seeds at each arm's best lr. Settings come from the environment:
// RESULTS_SIZE (nano), RESULTS_STEPS (120), RESULTS_BATCH (2), RESULTS_SEQ (64), RESULTS_SEEDS (3),
// RESULTS_LRS (1e-3,3e-3,1e-2,3e-2). Each finished CLI run is saved at once in docs/results/training.json
// and reused by a rerun with the same settings (RESULTS_FRESH=1 starts over).

import { writeFileSync } from 'node:fs';
import { resultsStore } from './results-store.mjs';

const env = process.env;
const settings = {
  size: env.RESULTS_SIZE ?? 'nano',
  family: 'gpt2',
  text: 'tinyshakespeare',
  steps: Number(env.RESULTS_STEPS ?? 120),
  batch: Number(env.RESULTS_BATCH ?? 2),
  seqLen: Number(env.RESULTS_SEQ ?? 64),
  valWindows: 16,
  seeds: Number(env.RESULTS_SEEDS ?? 3),
  lrs: (env.RESULTS_LRS ?? '1e-3,3e-3,1e-2,3e-2').split(',').map(Number),
};
const arms = [
  { label: 'AdamW', spec: 'adamw' },
  { label: 'Adafactor', spec: 'adafactor' },
  { label: 'CAME', spec: 'came' },
  { label: 'Adapprox', spec: 'adapprox' },
  { label: 'Adapprox without M', spec: 'adapprox', options: 'beta1=0' },
];
// The rank-1 ablation runs at Adapprox's tuned lr rather than on its own grid (time).
const ablation = {
  label: 'Adapprox, fixed rank 1 (ablation)',
  spec: 'adapprox',
  options: 'kmin=1,kmax=1',
  lrOf: 'Adapprox',
  ablation: true,
};

const saved = resultsStore(env.RESULTS_STORE ?? 'docs/results/training.json', settings);

const armArg = (arm, lr) => `${arm.spec}@${lr}${arm.options ? `:${arm.options}` : ''}`;

// One longer run on seed 0 at the tuned lrs (RESULTS_LONG_STEPS, 0 to skip): the short budget
// above mostly measures how fast each arm leaves the unigram plateau.
const longSteps = Number(env.RESULTS_LONG_STEPS ?? 400);

/** One CLI run of several arms on one seed, from the cache or fresh (saved at once). */
function run(seed, armArgs, steps = settings.steps) {
  const key = `seed ${seed}${steps === settings.steps ? '' : `, ${steps} steps`}: ${armArgs.join(' ')}`;
  return saved(key, [
    'train',
    '--size',
    settings.size,
    '--family',
    settings.family,
    '--text',
    settings.text,
    '--steps',
    String(steps),
    // The long run validates 20 times, so its quarter marks are validation steps.
    ...(steps === settings.steps ? [] : ['--val-every', String(Math.max(1, Math.round(steps / 20)))]),
    '--batch',
    String(settings.batch),
    '--seq-len',
    String(settings.seqLen),
    '--val-windows',
    String(settings.valWindows),
    '--seed',
    String(seed),
    ...armArgs.flatMap((a) => ['--arm', a]),
  ]);
}

const byId = (result, id) => result.summary.arms.find((a) => a.id === id);

// 1. The lr grid on seed 0: all arms at one lr per run.
const grid = new Map(arms.map((a) => [a.label, []]));
for (const lr of settings.lrs) {
  const result = run(
    0,
    arms.map((a) => armArg(a, lr)),
  );
  for (const a of arms) grid.get(a.label).push({ lr, summary: byId(result, armArg(a, lr)) });
}
const valid = (s) => s.finalValidationLoss !== null && !s.stopped;
const best = new Map(
  arms.map((a) => {
    const options = grid.get(a.label).filter((g) => valid(g.summary));
    options.sort((x, y) => x.summary.finalValidationLoss - y.summary.finalValidationLoss);
    return [a.label, options[0]?.lr ?? settings.lrs[0]];
  }),
);
const final = [...arms, ablation].map((a) => ({ ...a, lr: best.get(a.lrOf ?? a.label) }));

// 2. Every seed at the tuned lrs (seed 0's grid runs are reused where they match).
const perArm = new Map(final.map((a) => [a.label, []]));
for (let seed = 0; seed < settings.seeds; seed++) {
  const needed = final.filter((a) => !(seed === 0 && !a.ablation));
  const result = needed.length
    ? run(
        seed,
        needed.map((a) => armArg(a, a.lr)),
      )
    : null;
  for (const a of final) {
    const s =
      seed === 0 && !a.ablation
        ? grid.get(a.label).find((g) => g.lr === a.lr).summary
        : byId(result, armArg(a, a.lr));
    perArm.get(a.label).push(s);
  }
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const std = (xs) =>
  xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)) : 0;
const adamwBytes = perArm.get('AdamW')[0].state.persistent;
const lines = [
  `| optimizer | peak lr | final validation loss (mean ± std, ${settings.seeds} seeds) | min – max | state bytes | vs AdamW | optimizer ms/step |`,
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...final.map((a) => {
    const runs = perArm.get(a.label);
    const losses = runs.filter(valid).map((s) => s.finalValidationLoss);
    const stopped = runs.length - losses.length;
    const bytes = Math.max(...runs.map((s) => s.state.persistent));
    return (
      `| ${a.label} | ${a.lr} | ${losses.length ? `${mean(losses).toFixed(4)} ± ${std(losses).toFixed(4)}` : '—'}` +
      `${stopped ? ` (${stopped} stopped)` : ''} | ${losses.length ? `${Math.min(...losses).toFixed(4)} – ${Math.max(...losses).toFixed(4)}` : '—'}` +
      ` | ${bytes.toLocaleString('en-US')} | ${((100 * bytes) / adamwBytes).toFixed(1)}% | ${mean(runs.map((s) => s.optimizerMs)).toFixed(0)} |`
    );
  }),
  '',
  `Learning-rate grid on seed 0 (final validation loss): ${arms
    .map(
      (a) =>
        `${a.label}: ${grid
          .get(a.label)
          .map((g) => `${g.lr} → ${valid(g.summary) ? g.summary.finalValidationLoss.toFixed(4) : 'stopped'}`)
          .join(', ')}`,
    )
    .join('; ')}.`,
];
if (longSteps > 0) {
  const long = run(
    0,
    final.map((a) => armArg(a, a.lr)),
    longSteps,
  );
  const marks = [0.25, 0.5, 0.75, 1].map((f) => Math.round(f * longSteps));
  lines.push(
    '',
    `One longer run, seed 0, ${longSteps} steps at the same lrs (validation loss at steps ${marks.join(', ')}):`,
    '',
    `| optimizer | ${marks.map((m) => `step ${m}`).join(' | ')} | state bytes | optimizer ms/step |`,
    `| --- | ${marks.map(() => '---:').join(' | ')} | ---: | ---: |`,
    ...final.map((a) => {
      const id = armArg(a, a.lr);
      const curve = new Map(long.series[id].validation);
      const s = byId(long, id);
      return `| ${a.label} | ${marks.map((m) => (curve.has(m) ? curve.get(m).toFixed(4) : '—')).join(' | ')} | ${s.state.persistent.toLocaleString('en-US')} | ${s.optimizerMs.toFixed(0)} |`;
    }),
  );
}
writeFileSync('docs/results/training-table.md', `${lines.join('\n')}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
