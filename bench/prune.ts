// Pruning throughput: how fast FISTAPruner's inner solver iterates on one linear operator, and how
// long the whole per-operator step (magnitude warm start, L, λ₀, T rounds of K iterations with the
// hard threshold) takes, for the built-in stories260K's operator shapes and OPT-125M's. The problem
// is built on the GPU from random calibration tokens (G = XᵀX, B = W·G, X* = X), so its cost is the
// engine's, not a file's. The GPU's own timestamps split the solve by kernel, which shows whether
// the Y·G product or the elementwise passes and reductions around it take the GPU's time.

import type { TrackedBuffer } from '../src/gpu/ledger';
import { type WorkCounters, WorkMeter, withGpuClock } from '../src/gpu/meter';
import { countersSince, type GpuCounters, type GpuRuntime } from '../src/gpu/runtime';
import { accumulateGram } from '../src/kernels/gram';
import { matmul } from '../src/kernels/matmul';
import { Random } from '../src/kernels/random';
import { FistaWorkspace, fistaSolve, type OperatorProblem, weightedEnergy } from '../src/prune/fista';
import { fistaPruneOperator, type RoundReport } from '../src/prune/lambdaSearch';
import { lipschitzConstant } from '../src/prune/lipschitz';
import { applyKeep, magnitudeScores, rowMask } from '../src/prune/masks';
import { PAPER_FISTA, type SparsityPattern } from '../src/prune/options';
import { type BenchCounters, COUNTER_HEADS, counterCells, medianCounts, profiledMs } from './counters';
import { alignedRows, num, type Peaks, pct } from './table';

export interface PruneRow {
  model: string;
  operator: string;
  /** The weight matrix is rows × cols (out × in); G is cols × cols. */
  rows: number;
  cols: number;
  /** Calibration tokens behind G: 4·cols, at most 2048. */
  tokens: number;
  /** K of the timed solve. */
  iterations: number;
  /** Timed solves after the profiled warm-up solve; the median is reported. */
  runs: number;
  solveMsTimes: number[];
  solveMs: number;
  /** K / the solve's wall time (the final W_K·G product and the read-back included). */
  iterationsPerSecond: number;
  msPerIteration: number;
  /** 2·m·n² (Y·G) + the fused step and its objective sum, per iteration. */
  flopsPerIteration: number;
  /** K iterations plus the final W_K·G product and objective of one solve. */
  solveFlops: number;
  gflops: number;
  /** gflops / the run's best plain matmul row (set once the run's peak is known). */
  fracPeakMatmul: number | null;
  /** GPU time of one solve by kernel (pipeline label), from timestamp queries; null without them. */
  gpuMsByKernel: Record<string, number> | null;
  /** matmul's share of that GPU time. */
  matmulShare: number | null;
  /** The matmul kernel's own rate inside the solve: its FLOPs over its GPU time. */
  matmulGflopsInSolve: number | null;
  /** GPU work of one solve (counts: median of the timed solves; GPU ms: the profiled solve's). */
  solveCounters: BenchCounters;
  prune: PruneTiming | null;
  error?: string;
}

export interface PruneTiming {
  /** Warm start + L + fistaPruneOperator (λ₀ and the T rounds), wall time. */
  totalMs: number;
  warmStartMs: number;
  lipschitzMs: number;
  operatorMs: number;
  lipschitz: number;
  lambda0: number;
  /** ‖W X‖², the error of the all-zero matrix. */
  denseEnergy: number;
  /** ‖Ŵ X − W X‖² of the magnitude warm start and of the result kept. */
  warmStartError: number;
  error: number;
  rounds: Omit<RoundReport, 'objective'>[];
  /**
   * GPU work of the warm start, of L and of fistaPruneOperator (λ₀ and the T rounds): counts from
   * the timed step, GPU ms from a second run of the step on the GPU's clock (null without it).
   */
  warmStartCounters: BenchCounters;
  lipschitzCounters: BenchCounters;
  operatorCounters: BenchCounters;
}

interface Shape {
  model: string;
  operator: string;
  rows: number;
  cols: number;
  /** FISTA iterations of the timed solve. */
  iterations: number;
  /** Also time the full FISTAPruner step on this operator. */
  prune: boolean;
  small: boolean;
}

/** Per-row 50 % unstructured, the paper's headline setting. */
const PATTERN: SparsityPattern = { kind: 'unstructured', sparsity: 0.5 };

// FLOPs per element of one fused FISTA step (shaders/prune/fista.wgsl `step`): P_{k−1} 4 (mul, add, add,
// div), the objective term 6 (mul, sub, mul, abs, mul, add), Z 3, the shrinkage 5 (abs, sub, max,
// sign, mul), Y_k 3, the change 1; then 1 for the objective's sum.
const STEP_FLOPS = 22 + 1;
// The final objective: quad_terms (sub, mul, mul, abs, mul, add) and its sum.
const FINAL_FLOPS = 6 + 1;

function shapes(quick: boolean): Shape[] {
  const stories = (operator: string, rows: number, cols: number): Shape => ({
    model: 'stories260K',
    operator,
    rows,
    cols,
    iterations: PAPER_FISTA.iterations,
    prune: true,
    small: true,
  });
  // K = 5 for OPT's shapes: one iteration of fc2 is a 14.5 GFLOP product, seconds on a CPU adapter.
  const opt = (operator: string, rows: number, cols: number, prune: boolean): Shape => ({
    model: 'OPT-125M',
    operator,
    rows,
    cols,
    iterations: 5,
    prune,
    small: false,
  });
  const list = [stories('q/o', 64, 64), stories('gate/up', 172, 64), stories('down', 64, 172)];
  if (!quick) {
    // The full step only for q: fc1 and fc2 would take minutes each on a CPU adapter.
    list.push(
      opt('q/k/v/out_proj', 768, 768, true),
      opt('fc1', 3072, 768, false),
      opt('fc2', 768, 3072, false),
    );
  }
  return list;
}

/** An operator's statistics from `tokens` random inputs: G = XᵀX, B = W·G, ‖WX‖². */
class Problem {
  private readonly owned: TrackedBuffer[] = [];
  problem!: OperatorProblem;
  w!: GPUBuffer;

  static async build(
    rt: GpuRuntime,
    rows: number,
    cols: number,
    tokens: number,
    seed: number,
  ): Promise<Problem> {
    const self = new Problem();
    try {
      const random = new Random(seed);
      // Features with their own mean and scale, as real activations have: G then has a dominant
      // eigenvalue and is far from a multiple of I. An i.i.d. X gives G ≈ (tokens/3)·I, a flat
      // spectrum on which λ_max converges slowest (lipschitz.ts measures it), and for which magnitude
      // pruning is already optimal, so FISTA's rounds never beat their warm start.
      const mean = random.uniform(cols, -0.5, 0.5);
      const scale = random.uniform(cols, -0.7, 0.7).map(Math.exp);
      const data = random.uniform(tokens * cols);
      for (let i = 0; i < data.length; i++) {
        const j = i % cols;
        data[i] = ((data[i] as number) + (mean[j] as number)) * (scale[j] as number);
      }
      const x = await self.own(rt.upload('bench X', 'scratch', data));
      const gram = await self.own(rt.createBuffer('bench G', 'scratch', 4 * cols * cols));
      await accumulateGram(rt, { x: x.buffer, rows: tokens, width: cols, g: gram.buffer });
      const w = await self.own(
        rt.upload(
          'bench W',
          'scratch',
          random.uniform(rows * cols).map((v) => v / Math.sqrt(cols)),
        ),
      );
      const b = await self.own(rt.createBuffer('bench B', 'scratch', 4 * rows * cols));
      await matmul(rt, { a: w.buffer, b: gram.buffer, c: b.buffer, m: rows, n: cols, k: cols });
      const denseEnergy = await weightedEnergy(rt, w.buffer, gram.buffer, rows, cols);
      self.w = w.buffer;
      self.problem = { rows, cols, gram: gram.buffer, b: b.buffer, denseEnergy };
      return self;
    } catch (error) {
      self.destroy();
      throw error;
    }
  }

  async own(pending: Promise<TrackedBuffer>): Promise<TrackedBuffer> {
    const b = await pending;
    this.owned.push(b);
    return b;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

/** The magnitude warm start on the GPU: W with the smallest |W| of each row zeroed. */
async function magnitudeStart(rt: GpuRuntime, p: Problem, start: GPUBuffer): Promise<void> {
  const { rows, cols } = p.problem;
  const count = rows * cols;
  const scores = await rt.createBuffer('bench scores', 'scratch', 4 * count);
  const keep = await rt.createBuffer('bench keep', 'scratch', 4 * count);
  try {
    await magnitudeScores(rt, { w: p.w, count, out: scores.buffer });
    const prune = PATTERN.kind === 'unstructured' ? Math.floor(PATTERN.sparsity * cols) : 0;
    await rowMask(rt, { scores: scores.buffer, keep: keep.buffer, rows, cols, prune });
    rt.copy(p.w, start, 4 * count);
    await applyKeep(rt, { w: start, keep: keep.buffer, count });
  } finally {
    scores.destroy();
    keep.destroy();
  }
}

/** GPU work as the table shows it (writes are not shown). */
const benchCounters = (w: WorkCounters): BenchCounters => ({
  readbacks: w.readbacks,
  bytesRead: w.bytesRead,
  dispatches: w.dispatches,
  submissions: w.submissions,
  gpuMs: w.gpuMs,
});

/**
 * Warm start, L and the full FISTAPruner step on one problem, timed end to end; then, where the
 * adapter has timestamp-query, the same step again on the GPU's clock for the phases' GPU time.
 */
async function pruneOnce(rt: GpuRuntime, p: Problem): Promise<PruneTiming> {
  const timed = await pruneStep(rt, p);
  if (!rt.capability.features['timestamp-query']) return timed;
  const clocked = await withGpuClock(rt, true, () => pruneStep(rt, p));
  return {
    ...timed,
    warmStartCounters: { ...timed.warmStartCounters, gpuMs: clocked.warmStartCounters.gpuMs },
    lipschitzCounters: { ...timed.lipschitzCounters, gpuMs: clocked.lipschitzCounters.gpuMs },
    operatorCounters: { ...timed.operatorCounters, gpuMs: clocked.operatorCounters.gpuMs },
  };
}

async function pruneStep(rt: GpuRuntime, p: Problem): Promise<PruneTiming> {
  const count = p.problem.rows * p.problem.cols;
  const start = await rt.createBuffer('bench warm start', 'scratch', 4 * count);
  const out = await rt.createBuffer('bench pruned', 'scratch', 4 * count);
  try {
    await rt.sync();
    const t0 = performance.now();
    const warmMeter = WorkMeter.start(rt);
    await magnitudeStart(rt, p, start.buffer);
    await rt.sync();
    const warmStartCounters = benchCounters(await warmMeter.read());
    const t1 = performance.now();
    const lipschitzMeter = WorkMeter.start(rt);
    const lipschitz = await lipschitzConstant(rt, p.problem.gram, p.problem.cols);
    const lipschitzCounters = benchCounters(await lipschitzMeter.read());
    const t2 = performance.now();
    const operatorMeter = WorkMeter.start(rt);
    const rounds: Omit<RoundReport, 'objective'>[] = [];
    const result = await fistaPruneOperator(rt, {
      problem: p.problem,
      dense: p.w,
      start: start.buffer,
      out: out.buffer,
      pattern: PATTERN,
      options: PAPER_FISTA,
      lipschitz,
      startIsCandidate: true,
      // Only the round series' tags read this; the benchmark keeps the rounds' scalars.
      operator: { block: 0, operator: `${p.problem.rows}x${p.problem.cols}` },
      onRound: ({ objective: _, ...round }) => rounds.push(round),
    });
    await rt.sync();
    const operatorCounters = benchCounters(await operatorMeter.read());
    const t3 = performance.now();
    return {
      totalMs: t3 - t0,
      warmStartMs: t1 - t0,
      lipschitzMs: t2 - t1,
      operatorMs: t3 - t2,
      lipschitz,
      lambda0: result.lambda0,
      denseEnergy: p.problem.denseEnergy,
      warmStartError: result.warmStartError,
      error: result.error,
      rounds,
      warmStartCounters,
      lipschitzCounters,
      operatorCounters,
    };
  } finally {
    start.destroy();
    out.destroy();
  }
}

async function benchShape(rt: GpuRuntime, s: Shape, runs: number, seed: number): Promise<PruneRow> {
  const { rows: m, cols: n, iterations: K } = s;
  const tokens = Math.min(4 * n, 2048);
  const p = await Problem.build(rt, m, n, tokens, seed);
  let ws: FistaWorkspace | undefined;
  try {
    const L = await lipschitzConstant(rt, p.problem.gram, n);
    ws = await FistaWorkspace.create(rt, m, n, K);
    const workspace = ws;
    // From the dense W with λ = 0: neither changes the work of an iteration (the shrinkage is
    // branch-free), and tolerance 0 runs all K.
    const solve = () =>
      fistaSolve(rt, { problem: p.problem, workspace, start: p.w, lambda: 0, lipschitz: L, iterations: K });

    // The warm-up solve is the profiled one: timestamps around every pass slow the wall clock, not
    // the GPU's own time per kernel.
    const profiling = rt.startProfile();
    await solve();
    const totals = profiling ? await rt.stopProfile() : null;

    const times: number[] = [];
    const counts: GpuCounters[] = [];
    for (let r = 0; r < runs; r++) {
      await rt.sync();
      const before = rt.counters();
      const t = performance.now();
      await solve();
      await rt.sync();
      times.push(performance.now() - t);
      counts.push(countersSince(rt.counters(), before));
    }
    const solveMs = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] as number;
    const product = 2 * m * n * n;
    const flopsPerIteration = product + STEP_FLOPS * m * n;
    const solveFlops = K * flopsPerIteration + product + FINAL_FLOPS * m * n;

    let gpuMsByKernel: Record<string, number> | null = null;
    let matmulShare: number | null = null;
    let matmulGflopsInSolve: number | null = null;
    if (totals) {
      gpuMsByKernel = Object.fromEntries([...totals].map(([k, ns]) => [k, ns / 1e6]));
      const all = [...totals.values()].reduce((a, b) => a + b, 0);
      const mm = totals.get('matmul') ?? 0;
      matmulShare = all > 0 ? mm / all : null;
      matmulGflopsInSolve = mm > 0 ? ((K + 1) * product) / mm : null;
    }
    ws.destroy();
    ws = undefined;

    const prune = s.prune ? await pruneOnce(rt, p) : null;
    return {
      model: s.model,
      operator: s.operator,
      rows: m,
      cols: n,
      tokens,
      iterations: K,
      runs,
      solveMsTimes: times,
      solveMs,
      iterationsPerSecond: K / (solveMs / 1000),
      msPerIteration: solveMs / K,
      flopsPerIteration,
      solveFlops,
      gflops: solveFlops / (solveMs * 1e6),
      fracPeakMatmul: null,
      gpuMsByKernel,
      matmulShare,
      matmulGflopsInSolve,
      solveCounters: medianCounts(counts, profiledMs(totals)),
      prune,
    };
  } finally {
    ws?.destroy();
    p.destroy();
  }
}

/** Compiles every pipeline the section uses on a tiny problem, so no timed run pays for it. */
async function warmPipelines(rt: GpuRuntime): Promise<void> {
  const p = await Problem.build(rt, 8, 32, 64, 7);
  try {
    const ws = await FistaWorkspace.create(rt, 8, 32, 2);
    try {
      const L = await lipschitzConstant(rt, p.problem.gram, 32);
      await fistaSolve(rt, {
        problem: p.problem,
        workspace: ws,
        start: p.w,
        lambda: 0,
        lipschitz: L,
        iterations: 2,
      });
    } finally {
      ws.destroy();
    }
    await pruneOnce(rt, p);
  } finally {
    p.destroy();
  }
}

/**
 * The pruning section of `npm run bench`. `runs` (from --runs) sets the timed solves per shape;
 * by default 3 for stories260K's shapes and 1 for OPT-125M's.
 */
export async function benchPrune(rt: GpuRuntime, quick: boolean, runs: number | null): Promise<PruneRow[]> {
  const plan = shapes(quick);
  const runsOf = (s: Shape) => runs ?? (s.small ? 3 : 1);
  process.stderr.write('  pruning · compiling pipelines on a tiny problem … ');
  try {
    await warmPipelines(rt);
    process.stderr.write('done\n');
  } catch (error) {
    process.stderr.write('FAILED\n');
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    console.error(message);
    return plan.map((s) => failedRow(s, runsOf(s), message));
  }
  const rows: PruneRow[] = [];
  let seed = 2024;
  for (const s of plan) {
    const n = runsOf(s);
    process.stderr.write(
      `  pruning · ${s.model} ${s.operator} ${s.rows}×${s.cols}, K=${s.iterations} (${n} runs) … `,
    );
    const t = performance.now();
    try {
      const row = await benchShape(rt, s, n, seed++);
      rows.push(row);
      process.stderr.write(
        `${num(row.msPerIteration, 4)} ms/iteration` +
          `${row.prune ? `, prune ${num(row.prune.totalMs, 4)} ms` : ''} (case took ${num((performance.now() - t) / 1000)} s)\n`,
      );
    } catch (error) {
      process.stderr.write('FAILED\n');
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      console.error(message);
      rows.push(failedRow(s, n, message));
      if (rt.isLost) break;
    }
  }
  return rows;
}

function failedRow(s: Shape, runs: number, error: string): PruneRow {
  return {
    model: s.model,
    operator: s.operator,
    rows: s.rows,
    cols: s.cols,
    tokens: Math.min(4 * s.cols, 2048),
    iterations: s.iterations,
    runs,
    solveMsTimes: [],
    solveMs: Number.NaN,
    iterationsPerSecond: Number.NaN,
    msPerIteration: Number.NaN,
    flopsPerIteration: Number.NaN,
    solveFlops: Number.NaN,
    gflops: Number.NaN,
    fracPeakMatmul: null,
    gpuMsByKernel: null,
    matmulShare: null,
    matmulGflopsInSolve: null,
    solveCounters: medianCounts([], null),
    prune: null,
    error,
  };
}

/** Relates each row to the run's best plain matmul, known only after the kernel cases ran. */
export function relatePruneToPeak(rows: PruneRow[], peaks: Peaks): void {
  for (const r of rows) if (!r.error) r.fracPeakMatmul = r.gflops / peaks.matmulGflops;
}

export function formatPrune(rows: readonly PruneRow[], peaks: Peaks): string {
  const header = [
    'shape',
    'K',
    'iter/s',
    'ms/iter',
    'GFLOP/s',
    '%mm',
    'matmul share',
    'mm GFLOP/s in solve',
    'prune ms (L)',
    'read-backs (L)',
    'dispatches (L)',
    'largest other kernels (GPU ms per solve)',
  ];
  const lines = rows.map((r) => {
    const shape = `${r.model} ${r.operator} ${r.rows}×${r.cols}`;
    if (r.error) return [shape, String(r.iterations), `FAILED: ${r.error.split('\n')[0]}`];
    const others = Object.entries(r.gpuMsByKernel ?? {})
      .filter(([k]) => k !== 'matmul')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, ms]) => `${k} ${num(ms)}`)
      .join(', ');
    return [
      shape,
      String(r.iterations),
      num(r.iterationsPerSecond),
      num(r.msPerIteration, 4),
      num(r.gflops),
      pct(r.fracPeakMatmul),
      r.matmulShare === null ? 'n/a' : pct(r.matmulShare),
      num(r.matmulGflopsInSolve),
      r.prune ? `${num(r.prune.totalMs, 4)} (${num(r.prune.lipschitzMs, 4)})` : '–',
      r.prune ? countPair(r.prune, 'readbacks') : '–',
      r.prune ? countPair(r.prune, 'dispatches') : '–',
      others || (r.gpuMsByKernel ? '' : 'n/a'),
    ];
  });
  return [
    'Pruning (FISTAPruner on one operator; random X, 4·cols tokens up to 2048, per-feature mean and scale; X* = X)',
    ...alignedRows(header, lines, (i) => i < 1 || i === header.length - 1),
    '',
    `* iter/s, ms/iter: one solve of K iterations (final W_K·G product, objective and read-back included), ` +
      `wall time, median of the timed solves after a profiled warm-up solve. GFLOP/s counts K·(2·m·n² + ` +
      `${STEP_FLOPS}·m·n) + 2·m·n² + ${FINAL_FLOPS}·m·n; %mm is of the run's best plain matmul ` +
      `(${num(peaks.matmulGflops)} GFLOP/s).`,
    '* matmul share and the other kernels: GPU time of the warm-up solve by kernel (timestamp queries); ' +
      'mm GFLOP/s in solve = the K + 1 products over matmul GPU time.',
    `* prune ms: magnitude warm start + L (Lanczos, in parentheses) + λ₀ + T = ${PAPER_FISTA.rounds} rounds ` +
      `of K = ${PAPER_FISTA.iterations} with the hard threshold to 50 % per row (ξ = ${PAPER_FISTA.xi}). ` +
      'OPT-125M: K = 5 for the solve rows, and the full step only for q/k/v/out_proj (fc1/fc2 take minutes on a CPU adapter).',
    '* read-backs, dispatches: GPU→CPU read-backs and compute dispatches of L plus fistaPruneOperator ' +
      "(λ₀ and the T rounds) for one operator, from rt.counters(); L's own share in parentheses. " +
      'The magnitude warm start is not counted (it is in the table below).',
    '',
    formatPruneWork(rows),
  ].join('\n');
}

/** The GPU work of each row's parts: the solve, and the FISTAPruner step's warm start, L and operator. */
export function formatPruneWork(rows: readonly PruneRow[]): string {
  const header = ['shape', 'part', 'wall ms', ...COUNTER_HEADS];
  const lines: string[][] = [];
  for (const r of rows) {
    if (r.error) continue;
    const shape = `${r.model} ${r.operator} ${r.rows}×${r.cols}`;
    lines.push([shape, `solve, K = ${r.iterations}`, num(r.solveMs, 4), ...counterCells(r.solveCounters)]);
    if (!r.prune) continue;
    const t = r.prune;
    lines.push(['', 'warm start (magnitude)', num(t.warmStartMs, 4), ...counterCells(t.warmStartCounters)]);
    lines.push(['', 'L (λ_max)', num(t.lipschitzMs, 4), ...counterCells(t.lipschitzCounters)]);
    lines.push([
      '',
      `operator: λ₀ + ${PAPER_FISTA.rounds} rounds`,
      num(t.operatorMs, 4),
      ...counterCells(t.operatorCounters),
    ]);
  }
  return [
    'Pruning: GPU work (read-backs = GPU→CPU copies waited for; submits = command buffers queued)',
    ...alignedRows(header, lines, (i) => i < 2),
    '',
    '* Counts: the solve, median of the timed solves; the step (warm start, L, and fistaPruneOperator: λ₀ ' +
      'and the T rounds with their hard thresholds), the timed step. GPU ms (timestamp queries; n/a without ' +
      'them): the profiled warm-up solve, and a second run of the step on the GPU clock.',
  ].join('\n');
}

/** "L + operator (L)" of one counter. */
function countPair(t: PruneTiming, key: 'readbacks' | 'dispatches'): string {
  const l = t.lipschitzCounters[key];
  return `${l + t.operatorCounters[key]} (${l})`;
}
