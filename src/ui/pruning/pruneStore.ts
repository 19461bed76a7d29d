// The studio's pruning state: the settings form, the run in progress, every finished run of this
// session, and what the microscope looks at. As in modelStore.ts, only the actions talk to the
// worker. Masks are fetched on demand and a few are cached here (one is 1/32 of its f32 matrix).

import { proxy } from 'comlink';
import { create } from 'zustand';
import type { DeviceRoom } from '../../prune/parallel';
import type { PrunedStorageResult, PruneRun } from '../../worker/api';
import type { Mask } from '../microscope/maskGrid';
import { droppedLoad } from '../model/modelReducers';
import { useModelStudio } from '../model/modelStore';
import { downloadBytes } from '../shell/download';
import { getEngine, onEngineCrash } from '../shell/engineClient';
import { internalError, type JobError } from '../shell/jobState';
import { runFolderName, tarArchive } from './pruneExport';
import {
  initialPruneJob,
  type PruneJobState,
  reducePruneJob,
  startingPruneJob,
  statisticsPasses,
} from './pruneReducer';
import { buildOptions, defaultForm, type ModelShape, type PruneForm } from './pruneSettings';

export type MicroscopeMode = 'mask' | 'nm' | 'compare';

export interface MicroscopeChoice {
  runA: string | null;
  runB: string | null;
  tensor: string | null;
  mode: MicroscopeMode;
}

interface PruneStudioState {
  form: PruneForm | null;
  /** The model the form's defaults were made for; a new model resets them. */
  formModel: string | null;
  job: PruneJobState;
  /** Every finished run of this session, oldest first, of any model. */
  runs: PruneRun[];
  /** The run being exported, if any. */
  exporting: string | null;
  /** What went wrong with an export, with advice. */
  exportError: JobError | null;
  microscope: MicroscopeChoice;
  /** Whether runs can keep their pruned matrices on disk here, and above which plan they do unasked; null until asked. */
  storage: PrunedStorageResult | null;

  /** Asks the worker whether pruned matrices can be kept on disk (once). */
  loadStorage(): Promise<void>;
  /** Sets the form to the defaults for a model (on first sight of that model only, unless forced). */
  resetForm(model: ModelShape & { name: string }, force?: boolean): void;
  setForm(patch: Partial<PruneForm>): void;
  run(): Promise<void>;
  cancel(): Promise<void>;
  exportRun(runId: string): Promise<void>;
  forgetRun(runId: string): Promise<void>;
  setMicroscope(patch: Partial<MicroscopeChoice>): void;
}

/** Operator names only matter for how many statistics passes a block makes (one per group). */
const GENERIC_OPERATORS = ['q', 'k', 'v', 'o', 'up', 'down'];

export const usePruneStudio = create<PruneStudioState>()((set, get) => ({
  form: null,
  formModel: null,
  job: initialPruneJob,
  runs: [],
  exporting: null,
  exportError: null,
  microscope: { runA: null, runB: null, tensor: null, mode: 'mask' },
  storage: null,

  async loadStorage() {
    if (get().storage) return;
    try {
      set({ storage: await getEngine().prunedStorage() });
    } catch (error) {
      set({
        storage: {
          available: false,
          reason: String(error),
          thresholdBytes: Number.POSITIVE_INFINITY,
          deviceMemoryGib: null,
        },
      });
    }
  },

  resetForm(model, force = false) {
    if (!force && get().formModel === model.name && get().form) return;
    set({ form: defaultForm(model), formModel: model.name });
  },

  setForm(patch) {
    const form = get().form;
    if (form) set({ form: { ...form, ...patch } });
  },

  async run() {
    const { form, job } = get();
    const summary = useModelStudio.getState().load.loaded?.summary;
    if (!form || !summary || job.status === 'running') return;
    const built = buildOptions(form, summary, deviceRoom());
    if (!built.ok) return;
    // The setting is off where the disk cannot be had (the form says why): the run stays in memory.
    if (!get().storage?.available) delete built.options.prunedOnDisk;
    const { prune } = built.options;
    const passes = statisticsPasses(
      prune.method === 'fista' && prune.fista.errorCorrection,
      GENERIC_OPERATORS,
    );
    set((s) => ({ job: startingPruneJob(s.job, passes) }));
    try {
      const outcome = await getEngine().prune(
        built.options,
        proxy((event) => set((s) => ({ job: reducePruneJob(s.job, event) }))),
      );
      if (outcome.type === 'finished') {
        const held = new Set(outcome.heldRuns);
        set((s) => {
          const runs = [...s.runs, outcome.run].map((r) => ({ ...r, exportable: held.has(r.id) }));
          const m = s.microscope;
          const tensor = m.tensor ?? outcome.run.summary.blocks[0]?.matrices[0]?.tensor ?? null;
          // The newest run goes under the lens; the one it replaces stays as the comparison.
          const microscope = { ...m, runA: outcome.run.id, runB: m.runA ?? m.runB, tensor };
          return { runs, microscope };
        });
      } else if (outcome.type === 'error' && outcome.kind === 'device-lost') {
        useModelStudio.setState((s) => ({ load: droppedLoad(s.load), textTokens: {} }));
      }
    } catch (error) {
      set((s) => ({ job: reducePruneJob(s.job, { type: 'error', ...internalError(error) }) }));
    }
  },

  async cancel() {
    if (get().job.status !== 'running') return;
    set((s) => ({ job: { ...s.job, cancelRequested: true } }));
    await getEngine().cancel('prune');
  },

  async exportRun(runId) {
    const run = get().runs.find((r) => r.id === runId);
    if (!run || get().exporting) return;
    set({ exporting: runId, exportError: null });
    try {
      const result = await getEngine().exportRun(runId);
      if (result.ok) {
        const folder = runFolderName(run);
        downloadBytes(`${folder}.tar`, tarArchive(folder, result.files), 'application/x-tar');
      } else {
        const { kind, message, advice } = result;
        set({ exportError: { kind, message, advice } });
      }
    } catch (error) {
      set({ exportError: internalError(error) });
    } finally {
      set({ exporting: null });
    }
  },

  async forgetRun(runId) {
    forgetMasks(runId);
    set((s) => {
      const runs = s.runs.filter((r) => r.id !== runId);
      const m = s.microscope;
      const runA = m.runA === runId ? (runs.at(-1)?.id ?? null) : m.runA;
      const runB = m.runB === runId || m.runB === runA ? null : m.runB;
      return { runs, microscope: { ...m, runA, runB } };
    });
    await getEngine().forgetRun(runId);
  },

  setMicroscope(patch) {
    set((s) => ({ microscope: { ...s.microscope, ...patch } }));
  },
}));

/** The model whose runs are shown: the loaded one, or the chosen one while none is loaded (after a lost device). */
export function useCurrentModelName(): string | null {
  return useModelStudio((s) => s.load.loaded?.summary.name ?? s.inspect.summary?.name ?? null);
}

// ---------------------------------------------------------------------------------------------
// Masks, fetched on demand

export type MaskAnswer = ({ ok: true } & Mask) | ({ ok: false } & JobError);

const MASK_CACHE = 8;
const masks = new Map<string, Promise<MaskAnswer>>();

/** A run's mask of one matrix; the newest few stay cached (a 4096 × 11008 mask is 5.6 MB). */
export function fetchMask(runId: string, tensor: string): Promise<MaskAnswer> {
  const key = `${runId}\n${tensor}`;
  const cached = masks.get(key);
  if (cached) {
    // Most recently used last.
    masks.delete(key);
    masks.set(key, cached);
    return cached;
  }
  const answer = getEngine()
    .maskOf(runId, tensor)
    .then((r): MaskAnswer => {
      if (r.ok) return { ok: true, rows: r.rows, cols: r.cols, bits: r.bits };
      masks.delete(key);
      return { ok: false, kind: r.kind, message: r.message, advice: r.advice };
    })
    .catch((error): MaskAnswer => {
      masks.delete(key);
      return { ok: false, ...internalError(error) };
    });
  masks.set(key, answer);
  while (masks.size > MASK_CACHE) masks.delete(masks.keys().next().value as string);
  return answer;
}

function forgetMasks(runId: string): void {
  for (const key of [...masks.keys()]) if (key.startsWith(`${runId}\n`)) masks.delete(key);
}

onEngineCrash((message) => {
  const { job } = usePruneStudio.getState();
  if (job.status === 'running') {
    usePruneStudio.setState({
      job: reducePruneJob(job, { type: 'error', ...internalError(message) }),
    });
  }
});

/**
 * What bounds the devices a run is offered: this machine's cores, the memory budget, and one
 * block's GPU peak from the latest run's memory plan (settings change it, so the worker checks the
 * new run's own plan again before pruning).
 */
export function deviceRoom(): DeviceRoom {
  const plan = usePruneStudio.getState().job.calibration?.plan;
  return {
    cores: globalThis.navigator?.hardwareConcurrency ?? 1,
    budgetBytes: useModelStudio.getState().budgetBytes,
    ...(plan ? { peakBytes: plan.gpuPeakBytes } : {}),
  };
}
