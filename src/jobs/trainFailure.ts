// A training run's failure with advice where the error is training's (no model to fine-tune, out of
// GPU memory, a text too short, a setting out of range, a device lost again and again), and the
// model's or the GPU's otherwise.

import { GpuError } from '../gpu/errors';
import { TrainDataError } from '../train/data';
import { TrainOutOfMemoryError } from '../train/job';
import type { EngineFailure } from './failure';
import { modelFailure } from './loadFailure';
import { NoModelError } from './trainData';

const SETTINGS_ADVICE =
  'Change the setting the message names: learning rates lie in (0, 1], the window within the model’s context, ' +
  'warm-up within the steps, and the batch, steps and validation settings are whole numbers ≥ 1.';
const DATA_ADVICE = 'Use a longer text, a shorter window or a smaller batch.';
const MEMORY_ADVICE =
  'Close other GPU-heavy tabs, or train a smaller model, a shorter window or fewer arms at a time.';
const LOST_ADVICE =
  'The arms’ weights at the last validation are kept in the runs table: save them, then run again ' +
  '(a loaded model went with the device and must be loaded again). A device lost again and again ' +
  'is not a passing fault: close other GPU-heavy tabs, or train a smaller model or fewer arms.';

/** A failure with advice about training where the error is one; the model's and the GPU's otherwise. */
export function trainFailure(error: unknown, resumes = 0): EngineFailure {
  if (error instanceof NoModelError)
    return {
      ok: false,
      kind: 'no-model',
      message: error.message,
      advice: 'Load a model in the Model section to fine-tune it, or train a preset from scratch.',
    };
  if (error instanceof TrainOutOfMemoryError)
    return { ok: false, kind: 'out-of-memory', message: error.message, advice: MEMORY_ADVICE };
  if (error instanceof TrainDataError)
    return { ok: false, kind: 'range', message: error.message, advice: DATA_ADVICE };
  if (error instanceof RangeError)
    return { ok: false, kind: 'range', message: error.message, advice: SETTINGS_ADVICE };
  if (error instanceof GpuError && error.kind === 'device-lost')
    return {
      ok: false,
      kind: 'device-lost',
      message: resumes > 0 ? `${error.message} (after ${resumes} resumed losses)` : error.message,
      advice: LOST_ADVICE,
    };
  return modelFailure(error);
}
