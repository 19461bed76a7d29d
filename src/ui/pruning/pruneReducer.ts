// A pruning job's live state as a pure function of the worker's events, as modelReducers.ts does
// for loads and evaluations: progress with a known total, the FISTA objective and λ search of the
// operator being solved, errors per operator and block, and perplexity before and after.

import type { PlannedMemory } from '../../jobs/prune';
import type { BlockSummary, MatrixSummary, PruneEvent } from '../../prune/events';
import { type FistaTrace, traceWithRound } from '../../prune/fistaTrace';
import type { Series } from '../../series/series';
import type { PruneJobEvent, PruneRun, PruneStage } from '../../worker/api';
import { JOB_IDLE, type JobCommon, withJobError, withMemory } from '../shell/jobState';

export interface PerplexityProgress {
  label: string;
  seqLen: number;
  done: number;
  total: number;
  runningPpl: number | null;
  ppl: number | null;
  cached: boolean;
}

export interface PruneJobState extends JobCommon {
  status: 'idle' | 'running' | 'finished' | 'cancelled' | 'error';
  stage: PruneStage | null;
  calibration: { label: string; windows: number; seqLen: number; tokens: number; plan: PlannedMemory } | null;
  blocks: number[];
  operatorsPerBlock: string[];
  operatorsDone: number;
  /** Statistics passes over the calibration windows: one per block, or one per operator group with error correction. */
  passesPerBlock: number;
  passesDone: number;
  statistics: { block: number; operators: string[]; windowsDone: number; windowsTotal: number } | null;
  current: { block: number; operator: string; rows: number; cols: number; lipschitz?: number } | null;
  /** The FISTA operator shown in the charts: the latest one that reported a λ round, its series as they came. */
  fista: FistaTrace | null;
  matrices: MatrixSummary[];
  blockSummaries: BlockSummary[];
  before: PerplexityProgress | null;
  after: PerplexityProgress | null;
  resumes: { stage: PruneStage; block: number | null; attempt: number; message: string }[];
  /** Set when a stage ran out of GPU memory and was run again with one window per pass. */
  degraded: { stage: PruneStage; message: string } | null;
  run: PruneRun | null;
}

export const initialPruneJob: PruneJobState = {
  status: 'idle',
  stage: null,
  calibration: null,
  blocks: [],
  operatorsPerBlock: [],
  operatorsDone: 0,
  passesPerBlock: 1,
  passesDone: 0,
  statistics: null,
  current: null,
  fista: null,
  matrices: [],
  blockSummaries: [],
  before: null,
  after: null,
  resumes: [],
  degraded: null,
  run: null,
  ...JOB_IDLE,
};

/** passesPerBlock: 1 without error correction, else the number of operator groups (statisticsPasses). */
export function startingPruneJob(previous: PruneJobState, passesPerBlock: number): PruneJobState {
  return {
    ...initialPruneJob,
    status: 'running',
    stage: 'calibration',
    passesPerBlock,
    memory: previous.memory,
  };
}

/**
 * Statistics passes per block: with error correction each operator group gets its own pass (X*
 * depends on the groups pruned before it); without, one dense pass serves every group.
 */
export function statisticsPasses(corrected: boolean, operators: readonly string[]): number {
  if (!corrected) return 1;
  const group = (op: string) =>
    ['q', 'k', 'v'].includes(op)
      ? 'attention in'
      : op === 'o'
        ? 'attention out'
        : op === 'down'
          ? 'mlp out'
          : 'mlp in';
  return new Set(operators.map(group)).size;
}

/** Steps with a known total: every operator solved and every statistics pass. */
export function pruneProgress(s: PruneJobState): { done: number; total: number } {
  const total = s.blocks.length * (s.operatorsPerBlock.length + s.passesPerBlock);
  return { done: Math.min(total, s.operatorsDone + s.passesDone), total };
}

export function reducePruneJob(state: PruneJobState, event: PruneJobEvent): PruneJobState {
  switch (event.type) {
    case 'calibrating':
      return { ...state, stage: 'calibration' };
    case 'calibrated':
      return {
        ...state,
        calibration: {
          label: event.label,
          windows: event.windows,
          seqLen: event.seqLen,
          tokens: event.tokens,
          plan: event.plan,
        },
      };
    case 'perplexity-started': {
      const progress: PerplexityProgress = {
        label: event.label,
        seqLen: event.seqLen,
        done: event.cached ? event.total : 0,
        total: event.total,
        runningPpl: null,
        ppl: null,
        cached: event.cached,
      };
      return { ...state, stage: event.stage, [event.stage]: progress };
    }
    case 'perplexity-window': {
      const p = state[event.stage];
      if (!p) return state;
      return {
        ...state,
        [event.stage]: { ...p, done: event.done, total: event.total, runningPpl: event.runningPpl },
      };
    }
    case 'perplexity-finished': {
      const p = state[event.stage];
      if (!p) return state;
      return {
        ...state,
        [event.stage]: {
          ...p,
          done: event.windows,
          total: event.windows,
          runningPpl: event.ppl,
          ppl: event.ppl,
          cached: event.cached,
        },
      };
    }
    case 'prune':
      return event.events.reduce(reduceEngineEvent, { ...state, stage: 'prune' });
    case 'degraded': {
      const degraded = { stage: event.stage, message: event.message };
      if (event.stage !== 'prune') return { ...state, degraded };
      // The pruning starts over, with one window per pass.
      return {
        ...state,
        degraded,
        blockSummaries: [],
        matrices: [],
        operatorsDone: 0,
        passesDone: 0,
        statistics: null,
        current: null,
      };
    }
    case 'resumed': {
      const resumes = [
        ...state.resumes,
        { stage: event.stage, block: event.block, attempt: event.attempt, message: event.message },
      ];
      if (event.stage !== 'prune') return { ...state, resumes };
      // The engine starts the block it resumes at over again: its work so far is redone.
      const kept = new Set(state.blockSummaries.slice(0, event.blocksKept).map((b) => b.block));
      const matrices = state.matrices.filter((m) => kept.has(m.block));
      return {
        ...state,
        resumes,
        blockSummaries: state.blockSummaries.slice(0, event.blocksKept),
        matrices,
        operatorsDone: matrices.length,
        passesDone: kept.size * state.passesPerBlock,
        statistics: null,
        current: null,
      };
    }
    case 'finished':
      return {
        ...state,
        status: 'finished',
        stage: null,
        run: event.run,
        statistics: null,
        cancelRequested: false,
      };
    case 'cancelled':
      return { ...state, status: 'cancelled', stage: event.stage, cancelRequested: false };
    case 'error':
      return withJobError(state, event);
    case 'memory':
      return withMemory(state, event);
  }
}

export function reduceEngineEvent(state: PruneJobState, e: PruneEvent): PruneJobState {
  switch (e.type) {
    case 'started':
      return { ...state, blocks: e.blocks, operatorsPerBlock: e.operatorsPerBlock };
    case 'statistics': {
      const statistics = {
        block: e.block,
        operators: e.operators,
        windowsDone: e.windowsDone,
        windowsTotal: e.windowsTotal,
      };
      const passDone = e.windowsDone === e.windowsTotal;
      return { ...state, statistics, passesDone: state.passesDone + (passDone ? 1 : 0) };
    }
    case 'operator-started':
      return {
        ...state,
        current: { block: e.block, operator: e.operator, rows: e.rows, cols: e.cols, lipschitz: e.lipschitz },
      };
    case 'lambda-round':
      return { ...state, fista: traceWithRound(state.fista, e) };
    case 'operator-finished':
      return { ...state, matrices: [...state.matrices, e.matrix], operatorsDone: state.operatorsDone + 1 };
    case 'block-finished':
      return { ...state, blockSummaries: [...state.blockSummaries, e.summary] };
  }
}

/**
 * The objective chart's table (its CSV export): one row per iteration, a column per λ round
 * ('r0', 'r1', … by the series' round tag).
 */
export function objectiveRows(objectives: readonly Series[]): Record<string, number>[] {
  const rows = new Map<number, Record<string, number>>();
  objectives.forEach((series, i) => {
    const column = `r${series.round?.round ?? i}`;
    series.x.forEach((iteration, j) => {
      const row = rows.get(iteration) ?? { iteration };
      row[column] = series.y[j] as number;
      rows.set(iteration, row);
    });
  });
  return [...rows.values()].sort((a, b) => (a.iteration as number) - (b.iteration as number));
}

/** Error per block: the sum of its operators' errors over the sum of their dense energies ‖WX‖². */
export function blockErrors(matrices: readonly MatrixSummary[]): { block: number; relativeError: number }[] {
  const sums = new Map<number, { error: number; energy: number }>();
  for (const m of matrices) {
    const s = sums.get(m.block) ?? { error: 0, energy: 0 };
    s.error += m.error;
    // relativeError = error / ‖WX‖², so the energy is recovered from the two.
    if (m.relativeError > 0) s.energy += m.error / m.relativeError;
    sums.set(m.block, s);
  }
  return [...sums.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([block, s]) => ({ block, relativeError: s.energy > 0 ? s.error / s.energy : 0 }));
}
