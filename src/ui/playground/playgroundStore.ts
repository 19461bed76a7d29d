// The playground's state: the prompt and sampling settings, the models chosen (the loaded model and
// the pruning runs whose weights the worker holds), and the job that continues the prompt with each.
// As in the other stores, only the actions talk to the worker.

import { proxy } from 'comlink';
import { create } from 'zustand';
import { DENSE_MODEL } from '../../worker/api';
import { getEngine, onEngineCrash } from '../shell/engineClient';
import { internalError } from '../shell/jobState';
import {
  initialPlaygroundJob,
  type PlaygroundJob,
  reducePlaygroundJob,
  startingPlaygroundJob,
} from './playgroundReducer';

export interface PlaygroundForm {
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  /** 0 draws among every token. */
  topK: number;
  seed: number;
  /** Pruned runs keep their matrices compressed and multiply with the sparse kernels. */
  sparseKernels: boolean;
}

export const DEFAULT_PLAYGROUND: PlaygroundForm = {
  prompt: 'Once upon a time',
  maxNewTokens: 48,
  temperature: 0.8,
  topK: 20,
  seed: 1,
  sparseKernels: true,
};

/** What is wrong with the form, by field; empty when it can run. */
export function playgroundProblems(f: PlaygroundForm): Partial<Record<keyof PlaygroundForm, string>> {
  const problems: Partial<Record<keyof PlaygroundForm, string>> = {};
  if (f.prompt.trim() === '') problems.prompt = 'Write a prompt.';
  if (!Number.isInteger(f.maxNewTokens) || f.maxNewTokens < 1 || f.maxNewTokens > 1024)
    problems.maxNewTokens = 'A whole number of tokens from 1 to 1024.';
  if (!Number.isFinite(f.temperature) || f.temperature < 0 || f.temperature > 10)
    problems.temperature = 'From 0 (greedy) to 10.';
  if (!Number.isInteger(f.topK) || f.topK < 0) problems.topK = 'A whole number; 0 draws among every token.';
  if (!Number.isInteger(f.seed) || f.seed < 0 || f.seed > 0xffffffff)
    problems.seed = 'A whole number from 0 to 2³² − 1.';
  return problems;
}

interface PlaygroundState {
  form: PlaygroundForm;
  /** DENSE_MODEL and pruning run ids, in the order they run. */
  models: string[];
  job: PlaygroundJob;
  setForm(patch: Partial<PlaygroundForm>): void;
  toggleModel(model: string, on: boolean): void;
  /** Runs the chosen models that can still run (the panel drops runs whose weights are gone). */
  run(models?: string[]): Promise<void>;
  cancel(): Promise<void>;
}

export const usePlayground = create<PlaygroundState>()((set, get) => ({
  form: DEFAULT_PLAYGROUND,
  models: [DENSE_MODEL],
  job: initialPlaygroundJob,

  setForm(patch) {
    set((s) => ({ form: { ...s.form, ...patch } }));
  },

  toggleModel(model, on) {
    set((s) => {
      const rest = s.models.filter((m) => m !== model);
      // The dense model first, then runs in the order they were chosen.
      const models = on ? [...rest, model] : rest;
      return {
        models: [...models.filter((m) => m === DENSE_MODEL), ...models.filter((m) => m !== DENSE_MODEL)],
      };
    });
  },

  async run(only) {
    const { form, job } = get();
    const models = only ?? get().models;
    if (job.status === 'running' || models.length === 0 || Object.keys(playgroundProblems(form)).length)
      return;
    set({ job: startingPlaygroundJob(models) });
    try {
      await getEngine().generate(
        {
          prompt: form.prompt,
          models,
          maxNewTokens: form.maxNewTokens,
          temperature: form.temperature,
          topK: form.topK === 0 ? null : form.topK,
          seed: form.seed,
          sparseKernels: form.sparseKernels,
        },
        proxy((event) => set((s) => ({ job: reducePlaygroundJob(s.job, event) }))),
      );
    } catch (error) {
      set((s) => ({
        job: reducePlaygroundJob(s.job, { type: 'error', ...internalError(error) }),
      }));
    }
  },

  async cancel() {
    if (get().job.status !== 'running') return;
    set((s) => ({ job: { ...s.job, cancelRequested: true } }));
    await getEngine().cancel('generate');
  },
}));

onEngineCrash((message) => {
  const { job } = usePlayground.getState();
  if (job.status === 'running')
    usePlayground.setState({
      job: reducePlaygroundJob(job, { type: 'error', ...internalError(message) }),
    });
});
