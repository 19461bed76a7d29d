// Runs started on a person's behalf rather than from a panel's Run button: a record run again from
// the history, and a paper demo. Each one makes sure the model is open and loaded, puts the
// settings into the panel's own store (so the panel shows exactly what runs), and starts it there.

import type { StoreApi, UseBoundStore } from 'zustand';
import { PAPER_FISTA } from '../../prune/options';
import type { RunKind, RunRecord } from '../../run/record';
import { DENSE_MODEL } from '../../worker/api';
import { evalSettingsOfRecord, pruneFormOfRecord, trainFormOfRecord } from '../history/recordConfig';
import { useModelStudio } from '../model/modelStore';
import { buildTrainOptions, defaultTrainForm, type TrainForm } from '../optimizer/trainSettings';
import { useTrainStudio } from '../optimizer/trainStore';
import { usePlayground } from '../playground/playgroundStore';
import { buildOptions, type PruneForm } from '../pruning/pruneSettings';
import { usePruneStudio } from '../pruning/pruneStore';
import { getEngine } from './engineClient';
import type { EvalSettings } from './urlState';

/** Resolves with the first state that passes `ready`, now or later. */
function until<S>(store: UseBoundStore<StoreApi<S>>, ready: (state: S) => boolean): Promise<S> {
  const now = store.getState();
  if (ready(now)) return Promise.resolve(now);
  return new Promise((resolve) => {
    const stop = store.subscribe((state) => {
      if (ready(state)) {
        stop();
        resolve(state);
      }
    });
  });
}

/**
 * Opens the chosen model if nothing is open yet and loads it unless it is the one loaded; resolves
 * with why not, or null once it is on the GPU.
 */
export async function ensureModelLoaded(): Promise<string | null> {
  useModelStudio.getState().init();
  const opened = await until(
    useModelStudio,
    (s) => s.inspect.status === 'ready' || s.inspect.status === 'error',
  );
  if (opened.load.loaded && opened.load.loaded.summary.name === opened.inspect.summary?.name) return null;
  if (opened.inspect.status !== 'ready')
    return opened.inspect.error?.message ?? 'The model could not be opened.';
  await opened.loadModel();
  // The job's outcome can arrive before its last event has been applied to the store.
  const { load } = await until(useModelStudio, (s) => s.load.status !== 'loading');
  return load.loaded ? null : (load.error?.message ?? `The model was not loaded (${load.status}).`);
}

/** The pruning form set to the model's defaults with `fields` over them, then run. */
export async function runPrune(fields: Partial<PruneForm>): Promise<string | null> {
  const problem = await ensureModelLoaded();
  if (problem) return problem;
  const summary = useModelStudio.getState().load.loaded?.summary;
  if (!summary) return 'The model went away before the run could start.';
  const prune = usePruneStudio.getState();
  if (prune.job.status === 'running') return 'A pruning run is already under way.';
  prune.resetForm(summary, true);
  prune.setForm(fields);
  const { form } = usePruneStudio.getState();
  const built = form ? buildOptions(form, summary) : null;
  if (!built?.ok) {
    const errors = built ? Object.entries(built.errors).map(([field, why]) => `${field}: ${why}`) : [];
    return `The settings do not fit ${summary.name}: ${errors.join('; ')}`;
  }
  void prune.run();
  return null;
}

/**
 * The first screen's quick start: the loaded model pruned at 2:4 with FISTAPruner on small settings,
 * then the dense and the pruned model continuing one prompt side by side in the playground.
 */
export async function pruneThenGenerate(): Promise<string | null> {
  const before = usePruneStudio.getState().runs.length;
  const problem = await runPrune(QUICK_PRUNE);
  if (problem) return problem;
  document.getElementById('prune')?.scrollIntoView({ behavior: 'smooth' });
  const { job, runs } = await until(usePruneStudio, (s) => s.job.status !== 'running');
  const run = runs.length > before ? runs[runs.length - 1] : undefined;
  if (job.status !== 'finished' || !run)
    return 'The pruning run did not finish, so there is nothing to compare.';
  const playground = usePlayground.getState();
  for (const model of playground.models) playground.toggleModel(model, false);
  playground.toggleModel(DENSE_MODEL, true);
  playground.toggleModel(run.id, true);
  document.getElementById('playground')?.scrollIntoView({ behavior: 'smooth' });
  await playground.run();
  return null;
}

/**
 * FISTAPruner at 2:4 from SparseGPT, with calibration small enough to finish in about a minute on a
 * CPU adapter, and the paper's 3 λ rounds rather than the studio's 10: the quick start is for seeing
 * the workflow, and the rounds are most of its time.
 */
const QUICK_PRUNE: Partial<PruneForm> = {
  method: 'fista',
  pattern: 'nm',
  n: '2',
  m: '4',
  warmStart: 'sparsegpt',
  rounds: String(PAPER_FISTA.rounds),
  windows: '8',
  seqLen: '64',
  evaluate: true,
  evalText: 'tinystories',
  evalSeqLen: '128',
  evalWindows: '4',
};

/** The evaluation settings set (unnamed ones as they are), then run. */
export async function runEvaluation(settings: Partial<EvalSettings>): Promise<string | null> {
  const problem = await ensureModelLoaded();
  if (problem) return problem;
  const model = useModelStudio.getState();
  if (settings.text) model.setEvalText(settings.text);
  if (settings.seqLen !== undefined) model.setSeqLen(settings.seqLen);
  if (settings.windows !== undefined) model.setMaxWindows(settings.windows);
  void model.runEvaluation();
  return null;
}

/**
 * The training form set to its defaults with `fields` over them, then run; a model is loaded first
 * only when the run fine-tunes one. A form the run cannot start from (a pasted text to paste again)
 * stays on show with its fields marked.
 */
export async function runTrain(fields: Partial<TrainForm>): Promise<string | null> {
  const train = useTrainStudio.getState();
  const active = ['preparing', 'running', 'paused'].includes(train.job.status);
  if (active) return 'A training run is already under way.';
  train.setForm({ ...defaultTrainForm(), ...fields });
  if (fields.model === 'loaded') {
    const problem = await ensureModelLoaded();
    if (problem) return problem;
  }
  const loaded = useModelStudio.getState().load.loaded?.summary ?? null;
  const built = buildTrainOptions(
    useTrainStudio.getState().form,
    loaded && { name: loaded.name, context: loaded.context },
  );
  if (!built.ok) {
    const errors = Object.entries(built.errors).map(([field, why]) => `${field}: ${why}`);
    return `The training settings cannot run as they are: ${errors.join('; ')}`;
  }
  void useTrainStudio.getState().run();
  return null;
}

/** Runs a record again; resolves with notes for the person (settings that could not be read), or a reason it did not start. */
export type Rerun = (record: RunRecord) => Promise<{ started: boolean; notes: string[] }>;

/** Said when the loaded model is not the one the record was made on (the run goes ahead on it). */
async function otherModel(record: RunRecord): Promise<string[]> {
  const answer = await getEngine().modelIdentity();
  if (!answer.ok || answer.identity.sha256 === record.model.sha256) return [];
  const short = (hash: string) => hash.slice(0, 12);
  return [
    `The record was made on ${record.model.name} (sha256 ${short(record.model.sha256)}…); this run uses the loaded ${answer.identity.name} (${short(answer.identity.sha256)}…).`,
  ];
}

async function rerunIn(
  panel: string,
  problems: string[],
  start: () => Promise<string | null>,
  record: RunRecord,
) {
  const problem = await start();
  document.getElementById(panel)?.scrollIntoView({ behavior: 'smooth' });
  if (problem) return { started: false, notes: [...problems, problem] };
  return { started: true, notes: [...problems, ...(await otherModel(record))] };
}

const reruns: Record<RunKind, Rerun> = {
  prune(record) {
    const { values, problems } = pruneFormOfRecord(record);
    return rerunIn('prune', problems, () => runPrune(values), record);
  },
  eval(record) {
    const { values, problems } = evalSettingsOfRecord(record);
    return rerunIn('evaluate', problems, () => runEvaluation(values), record);
  },
  async train(record) {
    const { values, problems } = trainFormOfRecord(record);
    const problem = await runTrain(values);
    document.getElementById('train')?.scrollIntoView({ behavior: 'smooth' });
    if (problem) return { started: false, notes: [...problems, problem] };
    // A preset from scratch is the record's model by construction; a fine-tuned one may not be.
    return {
      started: true,
      notes: [...problems, ...(values.model === 'loaded' ? await otherModel(record) : [])],
    };
  },
};

export function rerunOf(record: RunRecord): Rerun | null {
  return Object.hasOwn(reruns, record.kind) ? reruns[record.kind] : null;
}
