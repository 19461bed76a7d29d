// FISTAPruner's outer loop for one operator (docs/algorithms/fistapruner.md §1 "Choosing λ" and §4): T rounds of
// K FISTA iterations (fista.ts), each followed by the hard threshold 𝓗 to the exact pattern; λ is
// bisected on the error ratio E_round / E_total against ξ, and the best thresholded result by
// E_total is kept, the warm start included.

import type { GpuRuntime } from '../gpu/runtime';
import { reduce } from '../kernels/reduce';
import type { Series, SeriesRound } from '../series/series';
import type { LambdaRound } from './events';
import {
  FistaWorkspace,
  median,
  type OperatorProblem,
  pass,
  readSolve,
  recordSolve,
  timesGram,
} from './fista';
import { objectiveSeries } from './fistaTrace';
import { magnitudeScores, nmMask, rowMask } from './masks';
import type { FistaOptions, SparsityPattern } from './options';

/** The hard threshold's ranking: unstructured per row or per matrix, or N:M along each row. */
export async function selectKeep(
  rt: GpuRuntime,
  scores: GPUBuffer,
  keep: GPUBuffer,
  rows: number,
  cols: number,
  pattern: SparsityPattern,
  group: FistaOptions['thresholdGroup'],
): Promise<void> {
  if (pattern.kind === 'nm') {
    await nmMask(rt, { scores, keep, rows, cols, n: pattern.n, m: pattern.m });
  } else if (group === 'matrix') {
    await rowMask(rt, {
      scores,
      keep,
      rows: 1,
      cols: rows * cols,
      prune: Math.floor(pattern.sparsity * rows * cols),
    });
  } else {
    await rowMask(rt, { scores, keep, rows, cols, prune: Math.floor(pattern.sparsity * cols) });
  }
}

/** A λ round with its objective series (fistaTrace.ts objectiveSeries of the solve's objectives). */
export interface RoundReport extends LambdaRound {
  objective: Series;
}

export interface PruneOperatorArgs {
  problem: OperatorProblem;
  /** The dense weights (rows × cols): the value a kept entry takes when FISTA left it at zero. */
  dense: GPUBuffer;
  /** The warm start (rows × cols, already at the target pattern or dense); not modified. */
  start: GPUBuffer;
  /** Receives the result (rows × cols). */
  out: GPUBuffer;
  pattern: SparsityPattern;
  options: FistaOptions;
  /** L = λ_max(G) with its margin (lipschitz.ts); shared by the operators of one group. */
  lipschitz: number;
  /** Whether the start itself may be returned (a pruned warm start) or not (a dense start). */
  startIsCandidate: boolean;
  /** The operator being pruned, which each round's objective series names. */
  operator: Omit<SeriesRound, 'round'>;
  signal?: AbortSignal;
  onRound?: (report: RoundReport) => void;
}

export interface PruneOperatorResult {
  error: number;
  warmStartError: number;
  /** The λ of the round whose result was kept; null when no round beat the warm start. */
  lambda: number | null;
  lambda0: number;
}

/**
 * The full FISTAPruner step for one operator: λ search over T rounds of K FISTA iterations. Each
 * round's scalars (the K + 1 objectives, the zero count, E_total and E_round) are reduced into
 * slots of the workspace's record on the GPU and read back together, once per round; the warm
 * start's error rides along with the first round's. With λ₀'s median that is T + 1 read-backs per
 * operator, whatever K.
 */
export async function fistaPruneOperator(
  rt: GpuRuntime,
  args: PruneOperatorArgs,
): Promise<PruneOperatorResult> {
  const { problem: p, options: o, pattern } = args;
  const ws = await FistaWorkspace.create(rt, p.rows, p.cols, o.iterations);
  const bytes = 4 * ws.count;
  const { slots } = ws;
  const sumInto = (slot: number) =>
    reduce(rt, 'sum', ws.count, { buffer: ws.terms }, { buffer: ws.record, offset: slot });
  const terms = (
    entry: 'quad_terms' | 'round_terms' | 'harden',
    buffers: Record<string, GPUBuffer>,
    values?: Record<string, number>,
  ) =>
    pass(
      rt,
      entry,
      ws.count,
      Object.fromEntries(Object.entries(buffers).map(([name, buffer]) => [name, { buffer }])),
      values,
    );
  try {
    rt.copy(args.start, ws.best, bytes);
    await timesGram(rt, p, ws.best, ws.yg);
    await terms('quad_terms', { v: ws.best, vg: ws.yg, b: p.b, out: ws.terms }, { two_lambda: 0 });
    await sumInto(slots.warm);
    let warmStartError = Number.NaN;
    let bestError = Number.POSITIVE_INFINITY;
    const takeWarmStart = (values: Float32Array) => {
      warmStartError = (values[slots.warm] as number) + p.denseEnergy;
      if (args.startIsCandidate) bestError = warmStartError;
    };
    let bestLambda: number | null = null;
    const lambda0 = await initialLambda(rt, p, ws, ws.best);
    let lambda = lambda0;
    let lo = 0;
    let hi = Number.POSITIVE_INFINITY;
    for (let round = 0; round < o.rounds; round++) {
      const solveArgs = {
        problem: p,
        workspace: ws,
        start: ws.best,
        lambda,
        lipschitz: args.lipschitz,
        iterations: o.iterations,
        tolerance: o.tolerance,
        signal: args.signal,
      };
      await recordSolve(rt, solveArgs);
      // Rank by |Z|, the magnitude before shrinkage: entries shrinkage kept rank above those it
      // zeroed (their |Z| exceeds λ/L), in the order of |W_K|, and zeroed ones by how near they came.
      await magnitudeScores(rt, { w: ws.z, count: ws.count, out: ws.change });
      await selectKeep(rt, ws.change, ws.keep, p.rows, p.cols, pattern, o.thresholdGroup);
      await terms('harden', {
        keep: ws.keep,
        w: ws.w,
        z: ws.z,
        dense: args.dense,
        out: ws.hard,
        zeros: ws.terms,
      });
      await sumInto(slots.zeros);
      // ws.yg holds W_K·G; the thresholded product goes to ws.pg (free until the next solve).
      await timesGram(rt, p, ws.hard, ws.pg);
      await terms('quad_terms', { v: ws.hard, vg: ws.pg, b: p.b, out: ws.terms }, { two_lambda: 0 });
      await sumInto(slots.total);
      await terms('round_terms', { a: ws.hard, ag: ws.pg, c: ws.w, cg: ws.yg, out: ws.terms });
      await sumInto(slots.round);
      const values = await rt.readF32(ws.record, 0, 4 * slots.length);
      if (round === 0) takeWarmStart(values);
      const solve = readSolve(values, solveArgs);
      const zeros = values[slots.zeros] as number;
      const errorTotal = (values[slots.total] as number) + p.denseEnergy;
      const errorRound = values[slots.round] as number;
      const best = errorTotal < bestError;
      if (best) {
        rt.copy(ws.hard, ws.best, bytes);
        bestError = errorTotal;
        bestLambda = lambda;
      }
      // Rounding dominates the error: FISTA's iterate was not sparse enough, so raise λ; else lower it.
      if (errorRound > o.xi * errorTotal) lo = lambda;
      else hi = lambda;
      args.onRound?.({
        round,
        lambda,
        lo,
        hi: Number.isFinite(hi) ? hi : null,
        sparsityBeforeThreshold: zeros / ws.count,
        errorTotal,
        errorRound,
        best,
        objective: objectiveSeries({ ...args.operator, round }, solve.objectives),
      });
      lambda = Number.isFinite(hi) ? (lo + hi) / 2 : 2 * lambda;
    }
    if (o.rounds < 1) takeWarmStart(await rt.readF32(ws.record, 0, 4 * slots.length));
    rt.copy(ws.best, args.out, bytes);
    return { error: bestError, warmStartError, lambda: bestLambda, lambda0 };
  } finally {
    ws.destroy();
  }
}

/**
 * λ₀ by the coordinate rule of docs/algorithms/fistapruner.md §4 and §5.2: the median over the matrix of |G_jj·W₀_ij − ∇f(W₀)_ij|.
 * (Scaling |W − ∇f/L| by L instead gives a λ so large that FISTA only returns its warm start.)
 * The median is taken on the CPU from the scores read back, once per operator.
 */
async function initialLambda(
  rt: GpuRuntime,
  p: OperatorProblem,
  ws: FistaWorkspace,
  w0: GPUBuffer,
): Promise<number> {
  await timesGram(rt, p, w0, ws.yg);
  const diagonal = await rt.createBuffer('gram diagonal', 'scratch', 4 * p.cols);
  try {
    for (let j = 0; j < p.cols; j++) rt.copy(p.gram, diagonal.buffer, 4, 4 * (j * p.cols + j), 4 * j);
    await pass(
      rt,
      'coordinate_scores',
      ws.count,
      {
        w: { buffer: w0 },
        wg: { buffer: ws.yg },
        b: { buffer: p.b },
        diag: { buffer: diagonal.buffer, whole: true },
        out: { buffer: ws.terms },
      },
      { cols: p.cols },
    );
    const scores = await rt.readF32(ws.terms, 0, 4 * ws.count);
    const lambda = median(scores);
    if (!(lambda > 0)) {
      // Every coordinate already satisfies the optimality condition exactly (W₀ = 0, or B = 0):
      // fall back to a small multiple of the largest score so the search still moves.
      const largest = scores.reduce((m, s) => Math.max(m, s), 0);
      return largest > 0 ? largest / 2 : 1e-12;
    }
    return lambda;
  } finally {
    diagonal.destroy();
  }
}
