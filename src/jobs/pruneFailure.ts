// A pruning run's failure with advice about pruning settings where the error is one (the options,
// the calibration text, the statistics, SparseGPT's Hessian, a device lost again and again), and
// the model's failure otherwise: what the studio shows, whichever host ran the job.

import { CalibrationError } from '../prune/calibration';
import { PruneInterruptedError } from '../prune/job';
import { PruneOptionsError } from '../prune/options';
import { SingularHessianError } from '../prune/sparsegpt';
import { StatisticsError } from '../prune/statistics';
import type { EngineFailure } from './failure';
import { modelFailure } from './loadFailure';

const OPTIONS_ADVICE =
  'Change the setting the message names; the paper’s defaults are shown beside each field of the Pruning panel.';
const CALIBRATION_ADVICE =
  'Choose another calibration text, paste a longer one, or use shorter or fewer calibration windows.';
const HESSIAN_ADVICE =
  'Raise the SparseGPT damping (the reference code uses 0.01 of the mean diagonal) or use more calibration windows.';
const STATISTICS_ADVICE = 'Check the weights for NaN, or use shorter calibration windows.';

/** A failure with advice about pruning settings where the error is one; the model's failures otherwise. */
export function pruneFailure(error: unknown, resumes = 0): EngineFailure {
  if (error instanceof PruneOptionsError)
    return { ok: false, kind: 'range', message: error.message, advice: OPTIONS_ADVICE };
  if (error instanceof CalibrationError)
    return { ok: false, kind: 'range', message: error.message, advice: CALIBRATION_ADVICE };
  if (error instanceof StatisticsError)
    return { ok: false, kind: 'range', message: error.message, advice: STATISTICS_ADVICE };
  if (error instanceof SingularHessianError)
    return { ok: false, kind: 'range', message: error.message, advice: HESSIAN_ADVICE };
  if (error instanceof PruneInterruptedError) {
    const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
    return {
      ok: false,
      kind: 'device-lost',
      message: `${error.message} (${cause})${resumes > 0 ? `, after ${resumes} resumed losses` : ''}.`,
      advice:
        'The device keeps being lost: close other GPU-heavy tabs, lower the memory budget or use fewer calibration windows, then load the model and run again.',
    };
  }
  return modelFailure(error);
}
