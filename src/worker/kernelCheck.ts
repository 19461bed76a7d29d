// The kernel check as a job: the suite from src/kernels, the pruning masks' and the sparse kernels' cases, streamed case by case as typed events with
// the ledger's memory alongside, ending in exactly one outcome. Aborting with a GpuError as the
// reason (a lost device) ends in an error; aborting without one is a user's cancel.

import { GpuError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { throttle } from '../jobs/throttle';
import { freshSeed } from '../kernels/random';
import { kernelSuite, runKernelSuite } from '../kernels/suite';
import { maskKernelCases } from '../prune/masks.suite';
import { sparseKernelCases } from '../sparse/sparse.suite';
import type { KernelCheckEvent, KernelCheckOptions, KernelCheckOutcome } from './api';
import { errorEvent } from './failure';

const MEMORY_INTERVAL_MS = 250;

export async function runKernelCheck(
  rt: GpuRuntime,
  options: KernelCheckOptions,
  emit: (event: KernelCheckEvent) => void,
  signal: AbortSignal,
): Promise<KernelCheckOutcome> {
  const cases = [...kernelSuite('check'), ...maskKernelCases('check'), ...sparseKernelCases('check')];
  const total = cases.length;
  const seed = options.seed ?? freshSeed();
  const start = performance.now();
  let done = 0;

  const sendMemory = () => {
    const { liveBytes, peakBytes } = rt.ledger.snapshot();
    emit({ type: 'memory', liveBytes, peakBytes });
  };
  const memory = throttle(sendMemory, MEMORY_INTERVAL_MS);
  const unsubscribe = rt.ledger.subscribe(() => memory());

  emit({ type: 'started', total, seed });
  // The peak shown is this check's, not whatever ran earlier on the same device.
  rt.ledger.resetPeak();

  let outcome: KernelCheckOutcome;
  try {
    const results = await runKernelSuite(rt, cases, {
      seed,
      timedRuns: options.timedRuns,
      signal,
      onResult: (progress) => {
        done = progress.done;
        emit({ type: 'result', done: progress.done, total: progress.total, result: progress.result });
      },
    });
    const passed = results.filter((r) => r.passed).length;
    outcome = {
      type: 'finished',
      results,
      passed,
      failed: results.length - passed,
      ms: performance.now() - start,
    };
  } catch (error) {
    const reason: unknown = signal.aborted ? signal.reason : error;
    outcome =
      signal.aborted && !(reason instanceof GpuError)
        ? { type: 'cancelled', done, total }
        : errorEvent(reason);
  } finally {
    unsubscribe();
    memory.cancel();
  }
  sendMemory();
  emit(outcome);
  return outcome;
}
