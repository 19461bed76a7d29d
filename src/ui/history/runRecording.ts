// Every pruning, evaluation and training run ends in a run record in the history, finished,
// cancelled or failed. This watches the job stores rather than living inside their actions, so a
// run started from anywhere (the panels, a re-run, a demo) is recorded the same way. The model's
// and the data's sha256 are asked for when the run starts: a failed run may have lost the model
// with its device by the time it ends.

import { adapterName } from '../../run/build';
import { presetIdentity } from '../../run/presetIdentity';
import { type DataIdentity, type ModelIdentity, type RunRecord, sha256Hex } from '../../run/record';
import { presetConfig } from '../../train/modelPresets';
import type { BuiltinData, EvalOptions, PruneJobOptions, TrainJobOptions } from '../../worker/api';
import { useModelStudio } from '../model/modelStore';
import { buildTrainOptions } from '../optimizer/trainSettings';
import { useTrainStudio } from '../optimizer/trainStore';
import { buildOptions } from '../pruning/pruneSettings';
import { usePruneStudio } from '../pruning/pruneStore';
import { getEngine } from '../shell/engineClient';
import { useStudio } from '../shell/store';
import { saveRunRecord, useHistory } from './historyStore';
import { evalRecord, pruneRecord, type RecordContext, trainRecord } from './recordBuild';

interface Started {
  startedAt: Date;
  model: Promise<ModelIdentity>;
  data: Promise<DataIdentity[]>;
}

async function builtinData(name: BuiltinData): Promise<DataIdentity> {
  const answer = await getEngine().dataIdentity(name);
  if (!answer.ok) throw new Error(`${answer.message} ${answer.advice}`);
  return answer.identity;
}

async function userData(text: string): Promise<DataIdentity> {
  const bytes = new TextEncoder().encode(text);
  return { name: 'user', sha256: await sha256Hex([bytes]), bytes: bytes.byteLength };
}

function loadedModel(): Promise<ModelIdentity> {
  return getEngine()
    .modelIdentity()
    .then((answer) => {
      if (!answer.ok) throw new Error(`${answer.message} ${answer.advice}`);
      return answer.identity;
    });
}

function start(data: Promise<DataIdentity>[], model: Promise<ModelIdentity> = loadedModel()): Started {
  const started = {
    startedAt: new Date(),
    model,
    data: Promise.all(data),
  };
  // Awaited when the run ends; until then a rejection is not unhandled.
  model.catch(() => {});
  started.data.catch(() => {});
  return started;
}

async function finish(started: Started, build: (context: RecordContext, data: DataIdentity[]) => RunRecord) {
  try {
    const capability = useStudio.getState().capability;
    const context: RecordContext = {
      startedAt: started.startedAt,
      finishedAt: new Date(),
      model: await started.model,
      adapter: capability.status === 'ready' ? adapterName(capability.report) : 'unknown adapter',
    };
    await saveRunRecord(build(context, await started.data));
  } catch (error) {
    useHistory.setState({
      error: `A run could not be recorded: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
}

const isActive = (status: string) => status === 'running' || status === 'preparing';
const ENDED = new Set(['finished', 'cancelled', 'error']);

let recording = false;

/** Starts recording runs (once; later calls do nothing). */
export function startRunRecording(): void {
  if (recording) return;
  recording = true;

  let prune: { started: Started; options: PruneJobOptions } | null = null;
  usePruneStudio.subscribe((state, previous) => {
    const { job } = state;
    if (job.status === 'running' && previous.job.status !== 'running') {
      const summary = useModelStudio.getState().load.loaded?.summary;
      const built = state.form && summary ? buildOptions(state.form, summary) : null;
      if (!built?.ok) return;
      const options = built.options;
      const source = options.prune.calibration.source;
      const data = [
        source.kind === 'text' ? userData(source.text) : builtinData(source.kind),
        ...(options.evaluation ? [builtinData(options.evaluation.text)] : []),
      ];
      prune = { started: start(data), options };
    } else if (prune && ENDED.has(job.status) && previous.job.status === 'running') {
      const { started, options } = prune;
      prune = null;
      // 'busy' means another job held the GPU and this one never began: nothing ran to record.
      if (job.error?.kind === 'busy') return;
      void finish(started, (context, data) => pruneRecord(context, options, job, data));
    }
  });

  let evaluation: { started: Started; options: EvalOptions } | null = null;
  useModelStudio.subscribe((state, previous) => {
    const e = state.evaluation;
    if (isActive(e.status) && !isActive(previous.evaluation.status)) {
      const options: EvalOptions = {
        text: state.evalText,
        seqLen: state.seqLen,
        ...(state.maxWindows === null ? {} : { maxWindows: state.maxWindows }),
      };
      evaluation = { started: start([builtinData(options.text)]), options };
    } else if (evaluation && ENDED.has(e.status) && isActive(previous.evaluation.status)) {
      const { started, options } = evaluation;
      evaluation = null;
      if (e.error?.kind === 'busy') return;
      void finish(started, (context, data) => evalRecord(context, options, e, data));
    }
  });

  let training: { started: Started; options: TrainJobOptions } | null = null;
  const trainActive = (status: string) =>
    status === 'preparing' || status === 'running' || status === 'paused';
  useTrainStudio.subscribe((state, previous) => {
    const { job } = state;
    if (trainActive(job.status) && !trainActive(previous.job.status)) {
      const loaded = useModelStudio.getState().load.loaded?.summary ?? null;
      const built = buildTrainOptions(state.form, loaded && { name: loaded.name, context: loaded.context });
      if (!built.ok) return;
      const options = built.options;
      const model =
        options.model.kind === 'preset'
          ? presetModel(options.model.preset, options.model.family, options.seed)
          : loadedModel();
      const data =
        options.data.kind === 'user' ? userData(options.data.text) : builtinData(options.data.kind);
      training = { started: start([data], model), options };
    } else if (training && ENDED.has(job.status) && trainActive(previous.job.status)) {
      const { started, options } = training;
      training = null;
      if (job.error?.kind === 'busy') return;
      // The kept run (options without a pasted text, per-arm summary) is appended just before.
      const run = state.runs.find((r) => r.id === job.runId) ?? null;
      void finish(started, (context, data) => trainRecord(context, run?.options ?? options, job, run, data));
    }
  });
}

/** A preset from scratch, named by its initial weights (the worker's vocabulary is tok512's 512). */
function presetModel(
  preset: Parameters<typeof presetConfig>[0],
  family: Parameters<typeof presetConfig>[1],
  seed: number,
) {
  const config = presetConfig(preset, family, { size: 512, bosId: 1, eosId: 2 });
  return presetIdentity(config, `${preset} ${family} preset, seed ${seed}`, seed);
}
