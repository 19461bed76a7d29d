// A training run's live state as a pure function of the worker's events, as pruneReducer.ts does for
// pruning: progress with a known total (steps × arms, less what stopped arms will not take) and an
// ETA, each arm's losses, speed and optimizer-state bytes, and Adapprox's rank and error per matrix
// per step for the heatmap and the error chart.

import type { RankSample, TrainEvent } from '../../train/job';
import type { StateBytes } from '../../train/optim/index';
import type { TrainJobEvent } from '../../worker/api';
import { JOB_IDLE, type JobCommon, withJobError, withMemory } from '../shell/jobState';

/**
 * Adapprox's per-matrix diagnostics over the steps: rank[s][i] is matrix names[i] at steps[s]
 * (undefined, or NaN, where that matrix had not reported yet).
 */
export interface RankTrace {
  names: string[];
  steps: number[];
  rank: number[][];
  error: number[][];
  /** The last step's samples (rank, error, clamped fraction per matrix). */
  last: RankSample[];
}

export interface ArmTrace {
  id: string;
  label: string;
  /** The optimizer's name ('AdamW', 'Adapprox'). */
  optimizer: string;
  /** [step, loss] pairs. */
  train: [number, number][];
  validation: [number, number][];
  tokensPerSecond: [number, number][];
  /** Sums over the steps, for the means. */
  modelMs: number;
  optimizerMs: number;
  lr: number | null;
  /** As of the last step (Adapprox's follows its ranks). */
  state: StateBytes | null;
  measuredTransient: number | null;
  ranks: RankTrace | null;
  stopped: { step: number; message: string } | null;
}

export interface TrainJobState extends JobCommon {
  status: 'idle' | 'preparing' | 'running' | 'paused' | 'finished' | 'cancelled' | 'error';
  dataLabel: string | null;
  modelName: string | null;
  trainTokens: number | null;
  validationTokens: number | null;
  steps: number;
  tokensPerStep: number;
  parameters: number;
  arms: ArmTrace[];
  /** Training time so far, pauses left out. */
  elapsedMs: number;
  /** The step of the last checkpoint (the weights kept if the run fails). */
  checkpointStep: number | null;
  /** Lost devices the run continued after: the step it continued from, and the device's message. */
  resumes: { step: number; attempt: number; message: string }[];
  /** The memory ran out once: the step the run continued from with one arm at a time, and what failed. */
  degraded: { step: number; message: string } | null;
  /** The run the arms were kept as (set for finished, cancelled and failed runs alike). */
  runId: string | null;
  /** Pause asked for, not yet landed between steps. */
  pauseRequested: boolean;
}

export const initialTrainJob: TrainJobState = {
  status: 'idle',
  dataLabel: null,
  modelName: null,
  trainTokens: null,
  validationTokens: null,
  steps: 0,
  tokensPerStep: 0,
  parameters: 0,
  arms: [],
  elapsedMs: 0,
  checkpointStep: null,
  resumes: [],
  degraded: null,
  runId: null,
  pauseRequested: false,
  ...JOB_IDLE,
};

export function startingTrainJob(previous: TrainJobState): TrainJobState {
  return { ...initialTrainJob, status: 'preparing', memory: previous.memory };
}

/** Arm-steps done and in total: every arm's steps, less those a stopped arm will not take. */
export function trainProgress(s: TrainJobState): { done: number; total: number } {
  let done = 0;
  let total = 0;
  for (const a of s.arms) {
    done += a.train.length;
    total += a.stopped ? a.train.length : s.steps;
  }
  return { done, total };
}

/** Milliseconds left at the pace so far; null before the first step or when not running. */
export function trainEta(s: TrainJobState): number | null {
  const { done, total } = trainProgress(s);
  if (done === 0 || (s.status !== 'running' && s.status !== 'paused')) return null;
  return (s.elapsedMs / done) * (total - done);
}

export function reduceTrainJob(state: TrainJobState, event: TrainJobEvent): TrainJobState {
  switch (event.type) {
    case 'preparing':
      return { ...state, status: 'preparing', dataLabel: event.label };
    case 'prepared':
      return {
        ...state,
        dataLabel: event.label,
        modelName: event.modelName,
        trainTokens: event.trainTokens,
        validationTokens: event.validationTokens,
      };
    case 'train':
      return { ...event.events.reduce(reduceEngineEvent, state), elapsedMs: event.elapsedMs };
    case 'resumed':
      return {
        ...state,
        resumes: [...state.resumes, { step: event.step, attempt: event.attempt, message: event.message }],
        arms: state.arms.map((a) => rewindArm(a, event.step)),
      };
    case 'degraded':
      return {
        ...state,
        degraded: { step: event.step, message: event.message },
        arms: state.arms.map((a) => rewindArm(a, event.step)),
      };
    case 'paused':
      return { ...state, status: 'paused', pauseRequested: false };
    case 'continued':
      return { ...state, status: 'running' };
    case 'kept':
      return { ...state, runId: event.run.id };
    case 'finished':
      return { ...state, status: 'finished', pauseRequested: false, cancelRequested: false };
    case 'cancelled':
      return { ...state, status: 'cancelled', pauseRequested: false, cancelRequested: false };
    case 'error':
      return { ...withJobError(state, event), pauseRequested: false };
    case 'memory':
      return withMemory(state, event);
  }
}

/** An arm before its first step. */
export function emptyArmTrace(id: string, label: string, optimizer: string): ArmTrace {
  return {
    id,
    label,
    optimizer,
    train: [],
    validation: [],
    tokensPerSecond: [],
    modelMs: 0,
    optimizerMs: 0,
    lr: null,
    state: null,
    measuredTransient: null,
    ranks: null,
    stopped: null,
  };
}

export function reduceEngineEvent(state: TrainJobState, e: TrainEvent): TrainJobState {
  switch (e.type) {
    case 'started':
      return {
        ...state,
        status: state.status === 'preparing' ? 'running' : state.status,
        steps: e.steps,
        tokensPerStep: e.tokensPerStep,
        parameters: e.parameters,
        arms: e.arms.map((a) => emptyArmTrace(a.id, a.label, a.optimizer)),
      };
    case 'step':
      return withArm(state, e.arm, (a) => ({
        ...a,
        train: [...a.train, [e.step, e.loss]],
        tokensPerSecond: [...a.tokensPerSecond, [e.step, e.tokensPerSecond]],
        modelMs: a.modelMs + e.modelMs,
        optimizerMs: a.optimizerMs + e.optimizerMs,
        lr: e.lr,
        state: e.state,
        measuredTransient: e.measuredTransient,
        ranks: e.ranks ? withRanks(a.ranks, e.step, e.ranks) : a.ranks,
      }));
    case 'validation':
      return withArm(state, e.arm, (a) => ({ ...a, validation: [...a.validation, [e.step, e.loss]] }));
    case 'arm-stopped':
      return withArm(state, e.arm, (a) => ({ ...a, stopped: { step: e.step, message: e.message } }));
    case 'checkpoint':
      return { ...state, checkpointStep: e.step };
  }
}

/**
 * An arm as of the checkpoint a continued run starts from: the steps after it are taken again, so
 * their points are dropped. The time sums are scaled with the count, so their means stay those of
 * every step taken, the repeated ones included (each was timed as it ran).
 */
function rewindArm(a: ArmTrace, step: number): ArmTrace {
  const train = a.train.filter(([s]) => s <= step);
  const scale = a.train.length > 0 ? train.length / a.train.length : 1;
  const ranks = a.ranks && {
    ...a.ranks,
    steps: a.ranks.steps.filter((s) => s <= step),
    rank: a.ranks.rank.filter((_, i) => (a.ranks?.steps[i] ?? 0) <= step),
    error: a.ranks.error.filter((_, i) => (a.ranks?.steps[i] ?? 0) <= step),
  };
  return {
    ...a,
    train,
    validation: a.validation.filter(([s]) => s <= step),
    tokensPerSecond: a.tokensPerSecond.filter(([s]) => s <= step),
    modelMs: a.modelMs * scale,
    optimizerMs: a.optimizerMs * scale,
    ranks,
    stopped: a.stopped && a.stopped.step <= step ? a.stopped : null,
  };
}

function withArm(state: TrainJobState, id: string, update: (a: ArmTrace) => ArmTrace): TrainJobState {
  return { ...state, arms: state.arms.map((a) => (a.id === id ? update(a) : a)) };
}

/** Appends a step's samples, lined up by matrix name (a matrix first seen later gets its own row). */
function withRanks(trace: RankTrace | null, step: number, samples: RankSample[]): RankTrace {
  const names = trace ? [...trace.names] : [];
  for (const s of samples) if (!names.includes(s.name)) names.push(s.name);
  const byName = new Map(samples.map((s) => [s.name, s]));
  return {
    names,
    steps: [...(trace?.steps ?? []), step],
    rank: [...(trace?.rank ?? []), names.map((n) => byName.get(n)?.rank ?? Number.NaN)],
    error: [...(trace?.error ?? []), names.map((n) => byName.get(n)?.relativeError ?? Number.NaN)],
    last: samples,
  };
}
