// The studio's model and evaluation state: which model is chosen, its fit on this GPU, what is
// loaded, and the evaluation running on it. As in store.ts, only the actions talk to the worker.
// The memory budget and the last URL are remembered between visits; dropped files cannot be.

import { proxy } from 'comlink';
import { create } from 'zustand';
import type { EvalText } from '../../model/evaluate';
import type { FitReport } from '../../model/fit';
import type {
  CacheNote,
  DownloadProgress,
  FitLimits,
  FitOptions,
  ModelSource,
  ModelSummary,
} from '../../worker/api';
import { getEngine, onEngineCrash } from '../shell/engineClient';
import { internalError, type JobError } from '../shell/jobState';
import { useModelCache } from './modelCacheStore';
import {
  droppedLoad,
  type EvalState,
  initialEval,
  initialLoad,
  type LoadState,
  reduceEval,
  reduceLoad,
  startingEval,
  startingLoad,
} from './modelReducers';

export const GIB = 2 ** 30;
/** WebGPU does not say how much memory a GPU has; 4 GiB is what most discrete and many integrated GPUs can spare. */
export const DEFAULT_BUDGET_BYTES = 4 * GIB;

/** What the person chose, as shown in the picker (File objects stay in the worker's copy). */
export type SourceChoice =
  | { kind: 'builtin' }
  | { kind: 'files'; label: string; count: number }
  | { kind: 'url'; url: string };

export interface InspectState {
  status: 'idle' | 'inspecting' | 'ready' | 'error';
  summary: ModelSummary | null;
  fit: FitReport | null;
  fitOptions: FitOptions | null;
  limits: FitLimits | null;
  error: JobError | null;
  /** Whether a URL model came from this browser's storage, was stored, or could not be. */
  cache: CacheNote | null;
  /** The file of a URL folder being downloaded while it opens, and how far. */
  download: DownloadProgress | null;
}

interface ModelStudioState {
  source: SourceChoice;
  inspect: InspectState;
  budgetBytes: number;
  /** The window length for the fit check and the evaluation; set to the model's default on opening. */
  seqLen: number;
  load: LoadState;
  /** Set when the loaded model went away outside a job (a lost device). */
  notice: JobError | null;
  evalText: EvalText;
  /** null: all windows. */
  maxWindows: number | null;
  /** Token counts of the texts under the loaded model's tokenizer, once known. */
  textTokens: Partial<Record<EvalText, number>>;
  evaluation: EvalState;

  /** Opens the built-in model on first use; later calls do nothing. */
  init(): void;
  chooseBuiltin(): Promise<void>;
  chooseFiles(files: File[], label?: string): Promise<void>;
  chooseUrl(url: string): Promise<void>;
  setBudget(bytes: number): void;
  setSeqLen(seqLen: number): void;
  loadModel(): Promise<void>;
  cancelLoad(): Promise<void>;
  setEvalText(text: EvalText): void;
  setMaxWindows(windows: number | null): void;
  runEvaluation(): Promise<void>;
  cancelEvaluation(): Promise<void>;
}

const BUDGET_KEY = 'compression-studio.budgetBytes';
const URL_KEY = 'compression-studio.modelUrl';

function remembered(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // A private window may refuse storage; the setting then lasts for this visit only.
  }
}

function rememberedBudget(): number {
  const value = Number(remembered(BUDGET_KEY));
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_BUDGET_BYTES;
}

export function rememberedUrl(): string {
  return remembered(URL_KEY) ?? '';
}

const initialInspect: InspectState = {
  status: 'idle',
  summary: null,
  fit: null,
  fitOptions: null,
  limits: null,
  error: null,
  cache: null,
  download: null,
};

/** Answers to older requests are dropped: a person may pick a second model before the first opens. */
let inspectRequest = 0;
let fitRequest = 0;
let watching = false;

export const useModelStudio = create<ModelStudioState>()((set, get) => {
  async function inspect(choice: SourceChoice, source: ModelSource): Promise<void> {
    const request = ++inspectRequest;
    set((s) => ({
      source: choice,
      inspect: { ...s.inspect, status: 'inspecting', error: null, download: null },
    }));
    // Only a URL folder is downloaded (into the browser's storage) while it opens.
    const onDownload =
      source.kind === 'url'
        ? proxy((progress: DownloadProgress) => {
            if (request === inspectRequest && get().inspect.status === 'inspecting') {
              set((s) => ({ inspect: { ...s.inspect, download: progress } }));
            }
          })
        : undefined;
    try {
      // The window is the new model's default: the old model's may be longer than this one's context.
      const result = await getEngine().inspectModel(source, { budgetBytes: get().budgetBytes }, onDownload);
      if (request !== inspectRequest) return;
      if (result.ok) {
        set({
          seqLen: result.options.seqLen,
          inspect: {
            status: 'ready',
            summary: result.summary,
            fit: result.fit,
            fitOptions: result.options,
            limits: result.limits,
            error: null,
            cache: result.cache,
            download: null,
          },
        });
      } else {
        const { kind, message, advice } = result;
        set({ inspect: { ...initialInspect, status: 'error', error: { kind, message, advice } } });
      }
    } catch (error) {
      if (request === inspectRequest)
        set({ inspect: { ...initialInspect, status: 'error', error: internalError(error) } });
    }
  }

  async function refit(): Promise<void> {
    const { inspect: current, budgetBytes, seqLen } = get();
    if (current.status !== 'ready') return;
    const request = ++fitRequest;
    const result = await getEngine().checkFit({ budgetBytes, seqLen });
    if (request !== fitRequest || get().inspect.status !== 'ready') return;
    if (result.ok) {
      set((s) => ({
        inspect: { ...s.inspect, fit: result.fit, fitOptions: result.options, limits: result.limits },
      }));
    } else {
      // A window outside the model's context: the fit shown is stale, and says so through fitOptions.
      set((s) => ({ inspect: { ...s.inspect, fit: null, fitOptions: null } }));
    }
  }

  async function countTokens(text: EvalText): Promise<void> {
    if (get().textTokens[text] !== undefined || !get().load.loaded) return;
    const result = await getEngine().textInfo(text);
    if (result.ok) set((s) => ({ textTokens: { ...s.textTokens, [text]: result.tokens } }));
  }

  return {
    source: { kind: 'builtin' },
    inspect: initialInspect,
    budgetBytes: rememberedBudget(),
    seqLen: 512,
    load: initialLoad,
    notice: null,
    evalText: 'wikitext2',
    maxWindows: null,
    textTokens: {},
    evaluation: initialEval,

    init() {
      if (!watching) {
        watching = true;
        void getEngine().watch(
          proxy((notice) => {
            set((s) => ({
              load: droppedLoad(s.load),
              textTokens: {},
              notice: { kind: 'device-lost', message: notice.message, advice: notice.advice },
            }));
          }),
        );
      }
      if (get().inspect.status === 'idle') void get().chooseBuiltin();
    },

    chooseBuiltin() {
      return inspect({ kind: 'builtin' }, { kind: 'builtin' });
    },

    chooseFiles(files, label) {
      const names = files.map((f) => f.name);
      const name =
        label ??
        (names.length <= 3
          ? names.join(', ')
          : `${names.slice(0, 2).join(', ')} and ${names.length - 2} more`);
      return inspect({ kind: 'files', label: name, count: files.length }, { kind: 'files', files, label });
    },

    async chooseUrl(url) {
      remember(URL_KEY, url);
      // Always asked (not only for large files): the page cannot know the sizes before the worker
      // has looked, and a browser that keeps the site's storage keeps small models too. Not
      // awaited: Firefox asks the person, and the model need not wait for their answer.
      void useModelCache.getState().requestPersistence();
      await inspect({ kind: 'url', url }, { kind: 'url', url });
      // The open may have stored the model, or dropped a damaged copy.
      void useModelCache.getState().refresh();
    },

    setBudget(bytes) {
      if (!(bytes > 0)) return;
      remember(BUDGET_KEY, String(bytes));
      set({ budgetBytes: bytes });
      void refit();
    },

    setSeqLen(seqLen) {
      set({ seqLen });
      void refit();
    },

    async loadModel() {
      const { load, inspect: current, budgetBytes, seqLen } = get();
      if (load.status === 'loading' || current.status !== 'ready' || !current.summary) return;
      set((s) => ({ load: startingLoad(s.load, current.summary?.name ?? ''), notice: null }));
      try {
        const outcome = await getEngine().loadModel(
          { budgetBytes, seqLen },
          proxy((event) => {
            set((s) => ({
              load: reduceLoad(s.load, event),
              // The token counts belong to the model that was dropped.
              ...(event.type === 'started' ? { textTokens: {} } : {}),
            }));
          }),
        );
        if (outcome.type === 'loaded') void countTokens(get().evalText);
      } catch (error) {
        set((s) => ({ load: reduceLoad(s.load, { type: 'error', ...internalError(error) }) }));
      }
    },

    async cancelLoad() {
      if (get().load.status !== 'loading') return;
      set((s) => ({ load: { ...s.load, cancelRequested: true } }));
      await getEngine().cancel('load');
    },

    setEvalText(text) {
      set({ evalText: text });
      void countTokens(text);
    },

    setMaxWindows(windows) {
      set({ maxWindows: windows });
    },

    async runEvaluation() {
      const { evaluation, evalText, seqLen, maxWindows } = get();
      if (evaluation.status === 'running' || evaluation.status === 'preparing') return;
      set((s) => ({ evaluation: startingEval(s.evaluation) }));
      try {
        const outcome = await getEngine().evaluate(
          { text: evalText, seqLen, ...(maxWindows === null ? {} : { maxWindows }) },
          proxy((event) => {
            set((s) => ({
              evaluation: reduceEval(s.evaluation, event),
              ...(event.type === 'started'
                ? { textTokens: { ...s.textTokens, [event.text]: event.tokensInText } }
                : {}),
            }));
          }),
        );
        if (outcome.type === 'error' && outcome.kind === 'device-lost') {
          set((s) => ({ load: droppedLoad(s.load), textTokens: {} }));
        }
      } catch (error) {
        set((s) => ({ evaluation: reduceEval(s.evaluation, { type: 'error', ...internalError(error) }) }));
      }
    },

    async cancelEvaluation() {
      const { status } = get().evaluation;
      if (status !== 'running' && status !== 'preparing') return;
      set((s) => ({ evaluation: { ...s.evaluation, cancelRequested: true } }));
      await getEngine().cancel('evaluate');
    },
  };
});

onEngineCrash((message) => {
  const { load, evaluation, inspect } = useModelStudio.getState();
  const failure = { type: 'error', ...internalError(message) } as const;
  if (load.status === 'loading') useModelStudio.setState({ load: reduceLoad(load, failure) });
  if (evaluation.status === 'running' || evaluation.status === 'preparing') {
    useModelStudio.setState({ evaluation: reduceEval(evaluation, failure) });
  }
  if (inspect.status === 'inspecting') {
    useModelStudio.setState({ inspect: { ...initialInspect, status: 'error', error: failure } });
  }
});
