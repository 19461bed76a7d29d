// An evaluation's settings and their checks, apart from the job that runs them, so the studio's
// form can ask for the same problems, by field, without loading the GPU code.

import type { ModelConfig } from '../model/config';
import { EVAL_TEXTS, type EvalText } from '../model/evaluate';

export interface EvalJobOptions {
  text: EvalText;
  /** Tokens per window. */
  seqLen: number;
  /** Score only the first windows; all when absent. */
  maxWindows?: number;
}

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
  if (!Number.isInteger(seqLen) || seqLen < 2 || seqLen > config.maxPositions)
    problems.seqLen = `a window must be a whole number of tokens from 2 to the model's context of ${config.maxPositions}, got ${seqLen}`;
  if (maxWindows !== undefined && !(Number.isInteger(maxWindows) && maxWindows >= 1))
    problems.maxWindows = `the number of windows must be a whole number ≥ 1, got ${maxWindows}`;
  return problems;
}

/** Settings an evaluation cannot run with; `problems` says which, field by field. */
export class EvalOptionsError extends RangeError {
  override name = 'EvalOptionsError';
  constructor(readonly problems: EvalProblems) {
    super(Object.values(problems).join('; '));
  }
}
