// The optimizer studio's state: the settings form, the run in progress, every run of this session
// (its arms kept by the worker for saving or opening in the pruning studio), and the second-moment
// spectrum asked for. As in pruneStore.ts, only the actions talk to the worker. A run's end is
// visible to watchers as job.status leaving 'preparing'/'running'/'paused', with the kept run
// (options, per-arm summary) appended to `runs` just before: what a run record needs.

import { proxy } from 'comlink';
import { create } from 'zustand';
import type { ArmVariant } from '../../train/armVariants';
import type { SecondMomentSpectrum } from '../../train/job';
import type { AdapproxDefaults, TrainRun } from '../../worker/api';
import { droppedLoad } from '../model/modelReducers';
import { useModelStudio } from '../model/modelStore';
import { safeName, tarArchive } from '../pruning/pruneExport';
import { downloadBytes } from '../shell/download';
import { getEngine, onEngineCrash } from '../shell/engineClient';
import { internalError, type JobError } from '../shell/jobState';
import { initialTrainJob, reduceTrainJob, startingTrainJob, type TrainJobState } from './trainReducer';
import { type ArmField, buildTrainOptions, defaultTrainForm, type TrainForm } from './trainSettings';

export interface InspectionState {
  status: 'idle' | 'waiting' | 'done' | 'error';
  arm: string | null;
  matrix: string | null;
  spectrum: SecondMomentSpectrum | null;
  error: JobError | null;
}

interface TrainStudioState {
  form: TrainForm;
  job: TrainJobState;
  /** Every run of this session, oldest first. */
  runs: TrainRun[];
  /** How Adapprox does what the paper leaves open, and its ξ_thr (from the engine), once asked. */
  adapprox: AdapproxDefaults | null;
  inspection: InspectionState;
  /** 'runId/arm' being saved or opened. */
  busy: string | null;
  /** What went wrong saving or opening an arm. */
  actionError: JobError | null;

  setForm(patch: Partial<TrainForm>): void;
  setArm(variant: ArmVariant, patch: Partial<ArmField>): void;
  resetForm(): void;
  loadAdapproxDefaults(): Promise<void>;
  run(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  cancel(): Promise<void>;
  inspect(arm: string, matrix: string): Promise<void>;
  saveArm(runId: string, arm: string): Promise<void>;
  /** Loads an arm as the current model (the Model section's path, as dropped files); true once loaded. */
  openArm(runId: string, arm: string): Promise<boolean>;
  forgetRun(runId: string): Promise<void>;
}

const idleInspection: InspectionState = {
  status: 'idle',
  arm: null,
  matrix: null,
  spectrum: null,
  error: null,
};

/** 'nano-GPT-2-Adapprox-train-1-…', a folder name for an arm. */
function armFolderName(run: TrainRun, armLabel: string): string {
  return safeName(`${run.modelName.replace(/\s*\((from scratch|built-in)\)/, '')}-${armLabel}-${run.id}`);
}

export const useTrainStudio = create<TrainStudioState>()((set, get) => {
  /** An arm's files from the worker, or null with the error shown. */
  async function armFiles(runId: string, arm: string) {
    const result = await getEngine().exportTrainArm(runId, arm);
    if (result.ok) return result.files;
    const { kind, message, advice } = result;
    set({ actionError: { kind, message, advice } });
    return null;
  }

  /** A kept run's arm with its label and its files from the worker, or null (the error shown). */
  async function armOfRun(runId: string, arm: string) {
    const run = get().runs.find((r) => r.id === runId);
    if (!run) return null;
    const files = await armFiles(runId, arm);
    if (!files) return null;
    return { run, label: run.summary.arms.find((a) => a.id === arm)?.label ?? arm, files };
  }

  /**
   * Runs an action on one arm's files at a time, with its failure shown rather than thrown; the
   * fallback when another action is running or the run no longer holds the arm.
   */
  async function onArm<T>(
    runId: string,
    arm: string,
    fallback: T,
    action: (found: NonNullable<Awaited<ReturnType<typeof armOfRun>>>) => Promise<T>,
  ): Promise<T> {
    if (get().busy) return fallback;
    set({ busy: `${runId}/${arm}`, actionError: null });
    try {
      const found = await armOfRun(runId, arm);
      return found ? await action(found) : fallback;
    } catch (error) {
      set({ actionError: internalError(error) });
      return fallback;
    } finally {
      set({ busy: null });
    }
  }

  return {
    form: defaultTrainForm(),
    job: initialTrainJob,
    runs: [],
    adapprox: null,
    inspection: idleInspection,
    busy: null,
    actionError: null,

    setForm(patch) {
      set((s) => ({ form: { ...s.form, ...patch } }));
    },

    setArm(variant, patch) {
      set((s) => ({
        form: { ...s.form, arms: { ...s.form.arms, [variant]: { ...s.form.arms[variant], ...patch } } },
      }));
    },

    resetForm() {
      set({ form: defaultTrainForm() });
    },

    async loadAdapproxDefaults() {
      if (get().adapprox) return;
      try {
        set({ adapprox: await getEngine().adapproxDefaults() });
      } catch {
        // The labels are an explanation, not a function: without them the panel still trains.
      }
    },

    async run() {
      const { form, job } = get();
      if (job.status === 'running' || job.status === 'preparing' || job.status === 'paused') return;
      const loaded = useModelStudio.getState().load.loaded?.summary ?? null;
      const built = buildTrainOptions(form, loaded && { name: loaded.name, context: loaded.context });
      if (!built.ok) return;
      set((s) => ({ job: startingTrainJob(s.job), inspection: idleInspection, actionError: null }));
      try {
        const outcome = await getEngine().train(
          built.options,
          proxy((event) => {
            set((s) => ({
              job: reduceTrainJob(s.job, event),
              ...(event.type === 'kept'
                ? {
                    runs: [...s.runs, event.run].map((r) => ({
                      ...r,
                      exportable: event.heldRuns.includes(r.id),
                    })),
                  }
                : {}),
            }));
          }),
        );
        if (outcome.type === 'error' && outcome.kind === 'device-lost')
          useModelStudio.setState((s) => ({ load: droppedLoad(s.load), textTokens: {} }));
      } catch (error) {
        set((s) => ({ job: reduceTrainJob(s.job, { type: 'error', ...internalError(error) }) }));
      }
    },

    async pause() {
      if (get().job.status !== 'running' && get().job.status !== 'preparing') return;
      set((s) => ({ job: { ...s.job, pauseRequested: true } }));
      await getEngine().pauseTrain(true);
    },

    async resume() {
      const { job } = get();
      if (job.status !== 'paused' && !job.pauseRequested) return;
      set((s) => ({ job: { ...s.job, pauseRequested: false } }));
      await getEngine().pauseTrain(false);
    },

    async cancel() {
      const { status } = get().job;
      if (status !== 'running' && status !== 'preparing' && status !== 'paused') return;
      set((s) => ({ job: { ...s.job, cancelRequested: true } }));
      await getEngine().cancel('train');
    },

    async inspect(arm, matrix) {
      set({ inspection: { ...idleInspection, status: 'waiting', arm, matrix } });
      try {
        const result = await getEngine().inspectSecondMoment(arm, matrix);
        // A newer request (another matrix) may have replaced this one meanwhile.
        const current = get().inspection;
        if (current.arm !== arm || current.matrix !== matrix) return;
        if (result.ok) set({ inspection: { ...current, status: 'done', spectrum: result.spectrum } });
        else {
          const { kind, message, advice } = result;
          set({ inspection: { ...current, status: 'error', error: { kind, message, advice } } });
        }
      } catch (error) {
        set((s) => ({ inspection: { ...s.inspection, status: 'error', error: internalError(error) } }));
      }
    },

    saveArm(runId, arm) {
      return onArm(runId, arm, undefined, async ({ run, label, files }) => {
        const folder = armFolderName(run, label);
        downloadBytes(`${folder}.tar`, tarArchive(folder, files), 'application/x-tar');
      });
    },

    openArm(runId, arm) {
      return onArm(runId, arm, false, async ({ run, label, files }) => {
        // The model's own files, as if dropped on the Model section (summary.json is ours, not the model's).
        const model = files
          .filter((f) => f.name !== 'summary.json')
          .map((f) => new File([f.data as Uint8Array<ArrayBuffer>], f.name));
        const studio = useModelStudio.getState();
        await studio.chooseFiles(
          model,
          `${run.modelName.replace(/\s*\(from scratch\)/, '')}, ${label} (${run.id})`,
        );
        if (useModelStudio.getState().inspect.status !== 'ready') return false;
        await useModelStudio.getState().loadModel();
        return useModelStudio.getState().load.status === 'loaded';
      });
    },

    async forgetRun(runId) {
      set((s) => ({ runs: s.runs.filter((r) => r.id !== runId) }));
      await getEngine().forgetTrainRun(runId);
    },
  };
});

onEngineCrash((message) => {
  const { job } = useTrainStudio.getState();
  if (job.status === 'running' || job.status === 'preparing' || job.status === 'paused') {
    useTrainStudio.setState({
      job: reduceTrainJob(job, { type: 'error', ...internalError(message) }),
    });
  }
});
