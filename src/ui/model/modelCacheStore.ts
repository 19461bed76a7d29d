// The models this browser keeps from URL folders (the worker's store, in the Origin Private File
// System), and what the browser says about the storage: whether it is persistent and how much the
// site uses. Persistence can only be asked for from the page (navigator.storage.persist is not
// offered to workers), so the page asks before every URL open that may store files.

import { create } from 'zustand';
import type { CachedModel } from '../../cache/modelCache';
import type { ModelCacheResult } from '../../worker/api';
import { getEngine } from '../shell/engineClient';
import { BUG_ADVICE, type JobError } from '../shell/jobState';
import { storageEstimate } from '../shell/storageEstimate';

/** 'unsupported': the browser has no persist(); 'denied': the browser may clear the site when space runs low. */
export type Persistence = 'granted' | 'denied' | 'unsupported' | 'unknown';

interface ModelCacheState {
  status: 'idle' | 'loading' | 'ready' | 'unavailable';
  models: CachedModel[];
  totalBytes: number;
  /** Why this browser cannot store models (then every open uses the network, as without a cache). */
  unavailable: string | null;
  /** Entries found damaged and removed while listing. */
  problems: string[];
  /** The last refusal or failure (deleting the model that is open, a storage error). */
  error: JobError | null;
  persistence: Persistence;
  estimate: { usage: number; quota: number } | null;

  refresh(): Promise<void>;
  remove(url: string): Promise<void>;
  removeAll(): Promise<void>;
  /** Asks the browser to keep the site's storage; answers and remembers what it said. */
  requestPersistence(): Promise<Persistence>;
}

async function currentPersistence(): Promise<Persistence> {
  try {
    if (typeof navigator.storage?.persisted !== 'function') return 'unsupported';
    return (await navigator.storage.persisted()) ? 'granted' : 'unknown';
  } catch {
    return 'unsupported';
  }
}

export const useModelCache = create<ModelCacheState>()((set, get) => {
  const apply = async (result: ModelCacheResult) => {
    const estimate = await storageEstimate();
    if (!result.ok) {
      const { kind, message, advice } = result;
      set({
        error: { kind, message, advice },
        estimate,
        status: get().status === 'loading' ? 'ready' : get().status,
      });
    } else if (!result.available) {
      set({
        status: 'unavailable',
        unavailable: result.reason,
        models: [],
        totalBytes: 0,
        error: null,
        estimate,
      });
    } else {
      set({
        status: 'ready',
        unavailable: null,
        models: result.models,
        totalBytes: result.totalBytes,
        problems: result.problems,
        error: null,
        estimate,
      });
    }
  };
  const failed = (error: unknown) =>
    set({
      error: {
        kind: 'internal',
        message: error instanceof Error ? error.message : String(error),
        advice: BUG_ADVICE,
      },
    });

  return {
    status: 'idle',
    models: [],
    totalBytes: 0,
    unavailable: null,
    problems: [],
    error: null,
    persistence: 'unknown',
    estimate: null,

    async refresh() {
      if (get().status === 'idle') set({ status: 'loading' });
      if (get().persistence === 'unknown') set({ persistence: await currentPersistence() });
      try {
        await apply(await getEngine().cachedModels());
      } catch (error) {
        failed(error);
      }
    },

    async remove(url) {
      try {
        await apply(await getEngine().deleteCachedModels(url));
      } catch (error) {
        failed(error);
      }
    },

    async removeAll() {
      try {
        await apply(await getEngine().deleteCachedModels(null));
      } catch (error) {
        failed(error);
      }
    },

    async requestPersistence() {
      let persistence: Persistence;
      try {
        if (typeof navigator.storage?.persist !== 'function') persistence = 'unsupported';
        else if (await navigator.storage.persisted()) persistence = 'granted';
        else persistence = (await navigator.storage.persist()) ? 'granted' : 'denied';
      } catch {
        persistence = 'unsupported';
      }
      set({ persistence });
      return persistence;
    },
  };
});
