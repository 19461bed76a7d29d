import { describe, expect, it } from 'vitest';
import { EVAL_BOUNDS } from '../../jobs/evalOptions';
import { PRUNE_BOUNDS } from '../../prune/options';
import { TRAIN_BOUNDS } from '../../train/options';
import { inputLimits } from './settingsFields';

describe('inputLimits: a number input takes its limits from the job bound it edits', () => {
  it('gives a whole bound step 1 and both ends', () => {
    expect(inputLimits(PRUNE_BOUNDS.rounds)).toEqual({ min: 1, max: 100, step: 1 });
    expect(inputLimits(TRAIN_BOUNDS.seqLen)).toEqual({ min: 2, max: 1_000_000, step: 1 });
  });

  it('leaves max out where the bound has no upper end', () => {
    expect(inputLimits(EVAL_BOUNDS.maxWindows)).toEqual({ min: 1, step: 1 });
  });

  it('scales a real bound (sparsity shown in percent) and steps it freely', () => {
    expect(inputLimits(PRUNE_BOUNDS.sparsity, 100)).toEqual({ min: 0, max: 100, step: 'any' });
    expect(inputLimits(PRUNE_BOUNDS.percdamp)).toEqual({ min: 0, max: 10, step: 'any' });
  });
});
