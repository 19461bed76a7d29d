// The CLI's side of the load job (src/jobs/load.ts), as the worker's modelJob.ts is the studio's:
// the fit check before any work is spent, and a model loaded with its progress on a line of stderr.
// A refusal or a failed load leaves as JobFailedError, which runCli prints with the job's advice
// (exit 2 for a model that does not fit the settings, as for other settings refused; 1 otherwise).

import type { GpuRuntime } from '../gpu/runtime';
import { JobFailedError } from '../jobs/failure';
import { checkFit, type InspectedModel, type LoadedModel, runModelLoad } from '../jobs/load';
import { fitRefusal } from '../jobs/loadFailure';
import type { FitOptions } from '../jobs/loadTypes';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import { ProgressLine } from './progress';

/** Throws the load job's refusal when the model does not fit this device's limits and the budget. */
export function refuseUnfit(rt: GpuRuntime, inspected: InspectedModel, options: FitOptions): void {
  const { opened, summary } = inspected;
  const { fit } = checkFit(rt, opened.config, options, opened.weights);
  if (fit.verdict === 'does not fit') throw new JobFailedError(fitRefusal(summary.name, fit));
}

/** The model on this device, resident when it fits the budget and block-streamed when only a block does. */
export async function loadModel(
  rt: GpuRuntime,
  inspected: InspectedModel,
  options: FitOptions,
  compress?: SparseExportFormat,
): Promise<LoadedModel> {
  let line: ProgressLine | undefined;
  const { outcome, loaded } = await runModelLoad({
    rt,
    inspected,
    options,
    compress,
    // Nothing cancels a command's load but ending the process.
    signal: new AbortController().signal,
    emit: (event) => {
      if (event.type === 'started') line = new ProgressLine('load', event.bytesTotal, 'bytes');
      else if (event.type === 'progress')
        line?.update(event.bytesDone, event.item ? `${event.phase} ${event.item}` : '');
    },
  });
  line?.done();
  if (outcome.type === 'error') throw new JobFailedError(outcome);
  if (!loaded) throw new Error(`the load of ${inspected.summary.name} ended ${outcome.type}`);
  return loaded;
}
