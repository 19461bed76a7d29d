// The studio's UI state. Components read it and call its actions; only the actions talk to the
// engine worker, so no component needs to know that a worker exists.

import { proxy } from 'comlink';
import { create } from 'zustand';
import type { CapabilityReport } from '../../gpu/device';
import type { EngineFailure, KernelCheckOptions } from '../../worker/api';
import { initialCheck, type KernelCheckState, reduceCheck, startingCheck } from '../kernelCheck/checkReducer';
import { getEngine, onEngineCrash } from './engineClient';
import { internalError } from './jobState';

export type CapabilityState =
  | { status: 'loading' }
  | { status: 'ready'; report: CapabilityReport }
  | { status: 'failed'; failure: EngineFailure };

interface StudioState {
  capability: CapabilityState;
  check: KernelCheckState;
  loadCapability(): Promise<void>;
  runCheck(options?: KernelCheckOptions): Promise<void>;
  cancelCheck(): Promise<void>;
}

/**
 * The worker would only find out the same thing later, and a page that is not a secure context
 * deserves a more precise explanation than "navigator.gpu is missing".
 */
function mainThreadFailure(): EngineFailure | null {
  if (typeof navigator !== 'undefined' && 'gpu' in navigator && navigator.gpu) return null;
  if (typeof window !== 'undefined' && !window.isSecureContext) {
    return {
      ok: false,
      kind: 'unavailable',
      message:
        'WebGPU is only offered to secure pages, and this page was not served over https or localhost.',
      advice: 'Open the studio from https:// or from http://localhost.',
    };
  }
  return {
    ok: false,
    kind: 'unavailable',
    message: 'This browser does not expose WebGPU (navigator.gpu is missing).',
    advice: 'Use a browser with WebGPU turned on; the steps for each browser are below.',
  };
}

export const useStudio = create<StudioState>()((set, get) => ({
  capability: { status: 'loading' },
  check: initialCheck,

  async loadCapability() {
    set({ capability: { status: 'loading' } });
    const failure = mainThreadFailure();
    if (failure) {
      set({ capability: { status: 'failed', failure } });
      return;
    }
    try {
      const result = await getEngine().capability();
      set({
        capability: result.ok
          ? { status: 'ready', report: result.report }
          : { status: 'failed', failure: result },
      });
    } catch (error) {
      set({
        capability: {
          status: 'failed',
          failure: { ok: false, ...internalError(error) },
        },
      });
    }
  },

  async runCheck(options = {}) {
    if (get().check.status === 'running') return;
    set((s) => ({ check: startingCheck(s.check) }));
    try {
      await getEngine().runKernelCheck(
        options,
        proxy((event) => set((s) => ({ check: reduceCheck(s.check, event) }))),
      );
    } catch (error) {
      set((s) => ({
        check: reduceCheck(s.check, { type: 'error', ...internalError(error) }),
      }));
    }
  },

  async cancelCheck() {
    if (get().check.status !== 'running') return;
    set((s) => ({ check: { ...s.check, cancelRequested: true } }));
    await getEngine().cancel();
  },
}));

onEngineCrash((message) => {
  const { capability, check } = useStudio.getState();
  const failure = internalError(message);
  if (capability.status === 'loading') {
    useStudio.setState({ capability: { status: 'failed', failure: { ok: false, ...failure } } });
  }
  if (check.status === 'running')
    useStudio.setState({ check: reduceCheck(check, { type: 'error', ...failure }) });
});
