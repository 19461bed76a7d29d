// The engine's browser host: a module worker that owns the GPU and answers the UI through comlink.
// Nothing here touches the DOM; the UI never touches the GPU. Every method resolves with a value,
// because an exception thrown across comlink arrives as a bare Error without kind or advice.

import { expose, type ProxyMarked, type Remote, releaseProxy } from 'comlink';
import type { EngineApi, KernelCheckEvent, KernelCheckOutcome } from './api';
import { errorEvent, toFailure } from './failure';
import { runKernelCheck } from './kernelCheck';
import { RuntimeSlot } from './runtimeSlot';

const slot = new RuntimeSlot(() => self.navigator.gpu);
let active: AbortController | null = null;

// A lost device ends the running check with its error; the slot has already let the runtime go,
// so the next call acquires a new device.
slot.onLost((error) => active?.abort(error));

const engine: EngineApi = {
  async capability() {
    try {
      const rt = await slot.acquire();
      return { ok: true, report: rt.capability };
    } catch (error) {
      return toFailure(error);
    }
  },

  async runKernelCheck(options, onEvent) {
    const remote = onEvent as unknown as Remote<(event: KernelCheckEvent) => void> & ProxyMarked;
    // A page that closed mid-run leaves a dead port; losing its events must not fail the job.
    const emit = (event: KernelCheckEvent) => void Promise.resolve(remote(event)).catch(() => {});
    let outcome: KernelCheckOutcome;
    if (active) {
      outcome = {
        type: 'error',
        kind: 'busy',
        message: 'A kernel check is already running.',
        advice: 'Wait for it to finish or cancel it first.',
      };
      emit(outcome);
    } else {
      const controller = new AbortController();
      active = controller;
      try {
        const rt = await slot.acquire();
        outcome = await runKernelCheck(rt, options, emit, controller.signal);
      } catch (error) {
        outcome = errorEvent(error);
        emit(outcome);
      } finally {
        if (active === controller) active = null;
      }
    }
    remote[releaseProxy]();
    return outcome;
  },

  async cancel() {
    active?.abort();
  },
};

expose(engine);
