// Pieces of runs that the tests of the studio's reducers, records and exports share: the memory
// plan a calibration reports, a small FISTAPruner 2:4 run's options, and the start of a short
// evaluation. Written once so that the tests describe the same runs.

import { PAPER_FISTA, PAPER_SPARSEGPT, type PruneOptions } from '../../prune/options';

/** The memory plan of a calibrated pruning run, as its 'calibrated' event carries it. */
export const PLAN = {
  gpuPeakBytes: 2 ** 20,
  gpuPeakPhase: 'down: its error',
  hostBytes: 2 ** 16,
  prunedElsewhere: false,
  windowsPerPass: 4,
};

/** FISTAPruner at 2:4 on four C4 windows of 32 tokens, with 4 iterations and 2 λ rounds. */
export function smallFista24(seed: number): PruneOptions {
  return {
    method: 'fista',
    pattern: { kind: 'nm', n: 2, m: 4 },
    calibration: { source: { kind: 'c4' }, windows: 4, seqLen: 32, seed },
    fista: { ...PAPER_FISTA, iterations: 4, rounds: 2 },
    sparsegpt: PAPER_SPARSEGPT,
    blockInputs: 'dense',
  };
}

/** The worker's event that starts an evaluation of three 64-token windows of TinyStories. */
export const evalStarted = (tokensInText: number) =>
  ({
    type: 'started',
    text: 'tinystories',
    label: 'TinyStories',
    seqLen: 64,
    total: 3,
    tokensInText,
  }) as const;
