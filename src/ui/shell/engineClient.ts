// The UI's one handle on the engine worker, started on first use. comlink turns the worker's
// EngineApi into async calls; a worker that dies (a failed module load, an out-of-memory kill)
// would leave those calls pending forever, so its error event is passed on to whoever listens.

import { type Remote, wrap } from 'comlink';
import type { EngineApi } from '../../worker/api';

let engine: Remote<EngineApi> | null = null;
const crashListeners = new Set<(message: string) => void>();

export function getEngine(): Remote<EngineApi> {
  if (!engine) {
    const worker = new Worker(new URL('../../worker/engine.worker.ts', import.meta.url), {
      type: 'module',
      name: 'compression-studio-engine',
    });
    worker.addEventListener('error', (event) => {
      const message = event.message || 'The engine worker stopped (it failed to load or crashed).';
      for (const listener of crashListeners) listener(message);
    });
    engine = wrap<EngineApi>(worker);
  }
  return engine;
}

export function onEngineCrash(listener: (message: string) => void): () => void {
  crashListeners.add(listener);
  return () => crashListeners.delete(listener);
}
