// An evaluation's settings and their checks, apart from the job that runs them, so the studio's
// form can ask for the same problems, by field, without loading the GPU code.

import { type Bound, describeBound, inBound } from '../bounds/bound';
import type { ModelConfig } from '../model/config';
import { EVAL_TEXTS, type EvalText } from '../model/evaluate';

export interface EvalJobOptions {
  text: EvalText;
  /** Tokens per window. */
  seqLen: number;
  /** Score only the first windows; all when absent. */
  maxWindows?: number;
}

/**
 * The ranges of an evaluation's settings, wherever a host takes them (the studio's evaluation and
 * pruning forms, the CLI's eval and prune). A window is also at most the model's context, checked
 * where the model is known.
 */
export const EVAL_BOUNDS = {
  /** Tokens per window: one to predict from at least one before it. */
  seqLen: { min: 2, max: Number.POSITIVE_INFINITY, whole: true },
  maxWindows: { min: 1, max: Number.POSITIVE_INFINITY, whole: true },
} as const satisfies Record<string, Bound>;

/** A problem with one setting, keyed by the setting it is about (a form shows it beside that field). */
export type EvalProblems = Partial<Record<keyof EvalJobOptions, string>>;

/** The settings' problems for this model; none when the evaluation can start. */
export function evalProblems(
  options: EvalJobOptions,
  config: Pick<ModelConfig, 'maxPositions'>,
): EvalProblems {
  const problems: EvalProblems = {};
  if (!Object.hasOwn(EVAL_TEXTS, options.text))
    problems.text = `there is no evaluation text "${options.text}": choose ${Object.keys(EVAL_TEXTS).join(' or ')}`;
  const { seqLen, maxWindows } = options;
  if (!inBound(EVAL_BOUNDS.seqLen, seqLen) || seqLen > config.maxPositions)
    problems.seqLen = `a window must be a whole number of tokens from ${EVAL_BOUNDS.seqLen.min} to the model's context of ${config.maxPositions}, got ${seqLen}`;
  if (maxWindows !== undefined && !inBound(EVAL_BOUNDS.maxWindows, maxWindows))
    problems.maxWindows = `the number of windows must be ${describeBound(EVAL_BOUNDS.maxWindows)}, got ${maxWindows}`;
  return problems;
}

/** Settings an evaluation cannot run with; `problems` says which, field by field. */
export class EvalOptionsError extends RangeError {
  override name = 'EvalOptionsError';
  constructor(readonly problems: EvalProblems) {
    super(Object.values(problems).join('; '));
  }
}
