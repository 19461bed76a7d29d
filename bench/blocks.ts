// Pruning at the sizes people bring. Two tables:
//
// - The memory plan (src/prune/memoryPlan.ts) of one block of OPT-125M, GPT-2 and LLaMA-2-7B,
//   from their real config.json values, for FISTAPruner at the paper's settings and SparseGPT, at
//   the paper's calibration (128 windows of 2048 tokens, 1024 for GPT-2): the GPU's peak by
//   category and what it is doing then, the host memory, and whether a 16 GiB budget holds it.
//   Pruning keeps one block on the GPU at a time, so a block's peak is the whole run's.
// - Full mode only: one block of OPT-125M and of LLaMA-2-7B with seeded random weights, really
//   pruned by each method on a reduced calibration set, each on a fresh runtime: wall time split
//   into the operators' solves and the rest (statistics passes, λ_max, the next block's inputs),
//   the solves' matrix-product FLOPs and rate, counters, and the ledger's measured peak against
//   the plan's. OPT-125M: every method on 4 windows of 128 random tokens (FISTAPruner with K = 5
//   iterations and T = 1 λ round instead of 20 and 3, as a CPU adapter spends about a second per
//   GFLOP). LLaMA-2-7B on a GPU adapter: the same. On a CPU adapter only magnitude and Wanda, on one
//   window of 128 tokens: with t ≪ n they measure through the tokens (src/prune/tokenForm.ts),
//   2·2mnt instead of 3·2mn² FLOPs, about 0.10 TFLOP over the block instead of 6.8. SparseGPT's
//   factors (2n³/3 per group: 1.0 TFLOP over the block, 0.89 of it for down's n = 11008) and
//   sweeps (about m·n² each, 1.1 TFLOP), and FISTAPruner's products with G (2mn² each, 2.3 TFLOP
//   per iteration over the block), stay hours at a CPU adapter's GFLOP/s.

import { formatBytes } from '../src/gpu/errors';
import type { BufferCategory } from '../src/gpu/ledger';
import type { WorkCounters } from '../src/gpu/meter';
import { createNodeRuntime } from '../src/host/nodeGpu';
import { Random } from '../src/kernels/random';
import type { ModelConfig } from '../src/model/config';
import type { MatrixSummary, PruneEvent } from '../src/prune/events';
import { defaultPruneOptions, pruneModel, pruneWindowsPerPass } from '../src/prune/job';
import { pruneMemoryPlan } from '../src/prune/memoryPlan';
import type { PruneMethod, PruneOptions } from '../src/prune/options';
import { measuresThroughTokens } from '../src/prune/tokenForm';
import { type RealModel, randomWeights, realConfig } from './realModels';
import { alignedRows, num } from './table';

const BUDGET_BYTES = 16 * 2 ** 30;
const CATEGORIES: BufferCategory[] = ['weights', 'activations', 'statistics', 'scratch', 'staging'];

export interface PlanRow {
  model: RealModel;
  method: PruneMethod;
  windows: number;
  seqLen: number;
  perPass: number;
  peakBytes: number;
  byCategory: Partial<Record<BufferCategory, number>>;
  phase: string;
  hostBytes: number;
  /** The host's bytes with the finished blocks' matrices on disk (prune --pruned-on-disk). */
  hostBytesOnDisk: number;
  fitsBudget: boolean;
}

export interface MeasuredBlockRow {
  model: RealModel;
  method: PruneMethod;
  calibration: string;
  wallMs: number;
  /** The operators' own time (MatrixSummary.ms), summed. */
  solveMs: number;
  /** FLOPs of the solves' matrix products (see solveFlops). */
  solveFlops: number;
  fistaIterations: number;
  counters: WorkCounters | null;
  plannedPeakBytes: number;
  measuredPeakBytes: number;
  error?: string;
}

/** The options a bench row runs: the paper's, FISTAPruner warm-started by SparseGPT. */
function paperOptions(method: PruneMethod, c: ModelConfig, seqLen: number): PruneOptions {
  return defaultPruneOptions(method, { context: seqLen, parameters: c.hidden * c.hidden * 12 * c.layers });
}

export function planRows(): PlanRow[] {
  const rows: PlanRow[] = [];
  for (const model of ['OPT-125M', 'GPT-2 (124M)', 'LLaMA-2-7B'] as const) {
    const c = realConfig(model);
    const seqLen = Math.min(2048, c.maxPositions);
    const windows = 128;
    // The job's default pass size on a device whose largest buffer is 2 GiB.
    const perPass = pruneWindowsPerPass(c, seqLen, windows, { maxBufferSize: 2 ** 31 });
    for (const method of ['fista', 'sparsegpt'] as const) {
      const plan = pruneMemoryPlan(c, paperOptions(method, c, seqLen), { seqLen, windows, perPass });
      rows.push({
        model,
        method,
        windows,
        seqLen,
        perPass,
        peakBytes: plan.peak.bytes,
        byCategory: plan.peak.byCategory,
        phase: plan.peak.phase,
        hostBytes: plan.hostBytes,
        hostBytesOnDisk: plan.hostBytesPrunedElsewhere,
        fitsBudget: plan.peak.bytes <= BUDGET_BYTES,
      });
    }
  }
  return rows;
}

/**
 * The matrix products of one operator's solve. A baseline measuring through the Gram: B = W·C,
 * ‖WX‖²'s W·H and the error's V·G, 2·m·n² each; through its t tokens (tokenForm.ts): X·Wᵀ and
 * X·Vᵀ, 2·m·n·t each. FISTAPruner: the three Gram products, its λ₀ product, one per iteration and
 * one closing each round (with the fused step's 23·m·n and the objective's 7·m·n, as
 * bench/prune.ts counts). SparseGPT's factor and sweep are not counted.
 */
function solveFlops(
  m: MatrixSummary,
  method: PruneMethod,
  tokens: number,
  iterations: number,
  rounds: number,
): number {
  const product = 2 * m.rows * m.cols * m.cols;
  const mn = m.rows * m.cols;
  if (method !== 'fista') return measuresThroughTokens(tokens, m.cols) ? 2 * (2 * mn * tokens) : 3 * product;
  return 3 * product + iterations * (product + 23 * mn) + rounds * (product + 7 * mn);
}

/** One block's real prune in the bench: the model, its methods and calibration. */
export interface BlockRun {
  model: RealModel;
  methods: PruneMethod[];
  windows: number;
  seqLen: number;
}

/** The blocks the full mode prunes, for a CPU adapter or a GPU (the header says why they differ). */
export function blockRuns(models: RealModel[], cpuAdapter: boolean): BlockRun[] {
  const all: PruneMethod[] = ['magnitude', 'wanda', 'sparsegpt', 'fista'];
  return models.map((model) =>
    model === 'LLaMA-2-7B' && cpuAdapter
      ? { model, methods: ['magnitude', 'wanda'], windows: 1, seqLen: 128 }
      : { model, methods: all, windows: 4, seqLen: 128 },
  );
}

/** One block of each run pruned for real by each of its methods. */
export async function measuredBlockRows(runs: BlockRun[]): Promise<MeasuredBlockRow[]> {
  const rows: MeasuredBlockRow[] = [];
  for (const run of runs) rows.push(...(await measuredBlock(run)));
  return rows;
}

async function measuredBlock({ model, methods, windows, seqLen }: BlockRun): Promise<MeasuredBlockRow[]> {
  const c = { ...realConfig(model), layers: 1 };
  const random = new Random(7);
  const calibration = Array.from({ length: windows }, () =>
    Array.from({ length: seqLen }, () => Math.floor(random.next() * c.vocabSize)),
  );
  const source = randomWeights(c, `random ${model} block`);
  const rows: MeasuredBlockRow[] = [];
  for (const method of methods) {
    const paper = paperOptions(method, c, seqLen);
    const options = { ...paper, fista: { ...paper.fista, iterations: 5, rounds: 1 } };
    const perPass = pruneWindowsPerPass(c, seqLen, windows, { maxBufferSize: 2 ** 31 });
    const plan = pruneMemoryPlan(c, options, { seqLen, windows, perPass });
    // A baseline whose groups all measure through their tokens says so ("via X").
    const viaTokens =
      method !== 'fista' && measuresThroughTokens(windows * seqLen, Math.min(c.hidden, c.ffnHidden));
    const calibrationLabel = `${windows} × ${seqLen} tokens${method === 'fista' ? ', K 5, T 1' : viaTokens ? ', via X' : ''}`;
    process.stderr.write(`  ${model} block · ${method} (${calibrationLabel}) … `);
    const rt = await createNodeRuntime();
    const iterations = new Map<string, number>();
    const rounds = new Map<string, number>();
    const emit = (e: PruneEvent) => {
      if (e.type !== 'lambda-round') return;
      // A round's objective series runs from x = 0 (the start) to its last iteration, thinned or not.
      const ran = e.objective.x[e.objective.x.length - 1] ?? 0;
      iterations.set(e.operator, (iterations.get(e.operator) ?? 0) + ran);
      rounds.set(e.operator, (rounds.get(e.operator) ?? 0) + 1);
    };
    const started = performance.now();
    try {
      rt.ledger.resetPeak();
      const before = rt.ledger.snapshot().liveBytes;
      const { summary } = await pruneModel({
        rt,
        source,
        calibration,
        options,
        emit,
        windowsPerPass: perPass,
      });
      const wallMs = performance.now() - started;
      const matrices = summary.blocks.flatMap((b) => b.matrices);
      const iterationsOf = (op: string) => iterations.get(op) ?? 0;
      rows.push({
        model,
        method,
        calibration: calibrationLabel,
        wallMs,
        solveMs: matrices.reduce((s, m) => s + m.ms, 0),
        solveFlops: matrices.reduce(
          (s, m) =>
            s +
            solveFlops(m, method, windows * seqLen, iterationsOf(m.operator), rounds.get(m.operator) ?? 0),
          0,
        ),
        fistaIterations: [...iterations.keys()].reduce((s, op) => s + iterationsOf(op), 0),
        counters: summary.counters ?? null,
        plannedPeakBytes: plan.peak.bytes,
        measuredPeakBytes: rt.ledger.snapshot().peakBytes - before,
      });
      process.stderr.write(`${num(wallMs / 1000)} s\n`);
    } catch (error) {
      process.stderr.write('FAILED\n');
      rows.push({
        model,
        method,
        calibration: calibrationLabel,
        wallMs: Number.NaN,
        solveMs: Number.NaN,
        solveFlops: Number.NaN,
        fistaIterations: 0,
        counters: null,
        plannedPeakBytes: plan.peak.bytes,
        measuredPeakBytes: Number.NaN,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    } finally {
      rt.destroy();
    }
  }
  return rows;
}

const mib = (bytes: number | undefined) => num((bytes ?? 0) / 2 ** 20, 4);

export function formatPlan(rows: PlanRow[]): string {
  const head = [
    'model',
    'method',
    'calibration',
    'windows / pass',
    'GPU peak',
    ...CATEGORIES.map((c) => `${c} MiB`),
    'peak while',
    'host',
    'host, pruned on disk',
    'GPU in 16 GiB',
  ];
  const body = rows.map((r) => [
    r.model,
    r.method,
    `${r.windows} × ${r.seqLen}`,
    String(r.perPass),
    formatBytes(r.peakBytes),
    ...CATEGORIES.map((c) => mib(r.byCategory[c])),
    r.phase,
    formatBytes(r.hostBytes),
    formatBytes(r.hostBytesOnDisk),
    r.fitsBudget ? 'yes' : 'no',
  ]);
  const table = alignedRows(head, body, (i) => i < 3 || i === head.length - 4).join('\n');
  return `Pruning memory plan — one block at a time, so one block's peak is the run's (the paper's settings)\n${table}`;
}

export function formatMeasuredBlocks(rows: MeasuredBlockRow[]): string {
  const head = [
    'block',
    'method',
    'calibration',
    'wall s',
    'solves s',
    'rest s',
    'solve GFLOP',
    'solve GFLOP/s',
    'read-backs',
    'dispatches',
    'peak planned',
    'peak measured',
    'measured / plan',
  ];
  const body = rows.map((r) =>
    r.error
      ? [r.model, r.method, r.calibration, `FAILED: ${r.error}`]
      : [
          r.model,
          r.method,
          r.calibration,
          num(r.wallMs / 1000),
          num(r.solveMs / 1000),
          num((r.wallMs - r.solveMs) / 1000),
          num(r.solveFlops / 1e9),
          num(r.solveFlops / 1e6 / r.solveMs),
          String(r.counters?.readbacks ?? '–'),
          String(r.counters?.dispatches ?? '–'),
          formatBytes(r.plannedPeakBytes),
          formatBytes(r.measuredPeakBytes),
          num(r.measuredPeakBytes / r.plannedPeakBytes, 4),
        ],
  );
  const table = alignedRows(head, body, (i) => i < 3).join('\n');
  return `One block pruned for real (random weights, reduced calibration), each method on a fresh runtime\n${table}`;
}
