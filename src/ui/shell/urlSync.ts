// Keeps the address bar and the studio's settings in step, so a link opens the studio set up the
// same way (urlState.ts has the format). A link is read once, at start; its values land in the
// stores as soon as there is something to put them in (the training form at once, the evaluation
// window once the model is opened, the pruning form once a model is loaded), checked against that
// model or preset, and anything that does not fit is reported and dropped. From then on every
// change is written back with replaceState, so the address is always a link to what is on screen,
// without filling the history.

import { create } from 'zustand';
import { useModelStudio } from '../model/modelStore';
import { buildTrainOptions, defaultTrainForm, type TrainField } from '../optimizer/trainSettings';
import { useTrainStudio } from '../optimizer/trainStore';
import { buildOptions, defaultForm, type PruneForm } from '../pruning/pruneSettings';
import { usePruneStudio } from '../pruning/pruneStore';
import { useStudio } from './store';
import {
  armsText,
  changedFields,
  changedTrainFields,
  decodeUrlState,
  type EvalSettings,
  encodeUrlState,
  type LinkedPruneField,
  type LinkedPruneForm,
  type LinkedTrainForm,
  type UrlState,
} from './urlState';

interface LinkProblems {
  problems: string[];
  dismiss(): void;
}

/** What was wrong with the link the studio was opened with, for the notice at the top. */
export const useLinkProblems = create<LinkProblems>()((set) => ({
  problems: [],
  dismiss: () => set({ problems: [] }),
}));

const report = (problem: string) => useLinkProblems.setState((s) => ({ problems: [...s.problems, problem] }));

/** The pruning fields a link asked for, kept until a form exists to take them. */
let pendingPrune: Partial<LinkedPruneForm> | null = null;
let pendingSeqLen: number | null = null;
/** The pruning part of the link once the form has taken over (kept while no model is loaded). */
let linkedPrune: Partial<LinkedPruneForm> = {};

/** The link's pruning values over the model's defaults; a value the model refuses is reverted and reported. */
function applyPrune(form: PruneForm, wanted: Partial<LinkedPruneForm>): void {
  const summary = useModelStudio.getState().load.loaded?.summary;
  if (!summary) return;
  const patched = { ...form, ...wanted };
  const built = buildOptions(patched, summary);
  if (!built.ok) {
    for (const [field, message] of Object.entries(built.errors)) {
      if (field in wanted) {
        report(`prune.${field} = ${JSON.stringify(String(wanted[field as LinkedPruneField]))}: ${message}`);
        (patched as Record<string, unknown>)[field] = form[field as keyof PruneForm];
      }
    }
  }
  usePruneStudio.getState().setForm(patched);
}

/** A form field's error as the link field it comes from (every arm's rate is in `arms`). */
const linkFieldOf = (field: TrainField) => (field.startsWith('lr-') ? 'arms' : field);

/**
 * The link's training values over the defaults; a value the form refuses (a window longer than the
 * preset's context, a warm-up as long as the run) is reverted and reported. Whether a model is
 * loaded to fine-tune is not the link's to check: the form says so until one is.
 */
function applyTrain(wanted: Partial<LinkedTrainForm>): void {
  const form = useTrainStudio.getState().form;
  const patched = { ...form, ...wanted };
  const built = buildTrainOptions(patched, null);
  if (!built.ok) {
    for (const [field, message] of Object.entries(built.errors)) {
      const key = linkFieldOf(field as TrainField) as keyof LinkedTrainForm;
      if (field === 'model' || !(key in wanted)) continue;
      const text = key === 'arms' && wanted.arms ? armsText(wanted.arms) : String(wanted[key]);
      report(`train.${key} = ${JSON.stringify(text)}: ${message}`);
      (patched as Record<string, unknown>)[key] = form[key];
    }
  }
  useTrainStudio.getState().setForm(patched);
}

function currentState(): UrlState {
  const model = useModelStudio.getState();
  const { form, formModel } = usePruneStudio.getState();
  const loaded = model.load.loaded?.summary;
  if (pendingPrune === null && form && loaded && loaded.name === formModel) {
    linkedPrune = changedFields(form, defaultForm(loaded));
  }
  const opened = model.inspect.summary;
  const evaluation: Partial<EvalSettings> = {};
  if (model.evalText !== 'wikitext2') evaluation.text = model.evalText;
  if (pendingSeqLen !== null) evaluation.seqLen = pendingSeqLen;
  else if (opened && model.seqLen !== opened.defaultSeqLen) evaluation.seqLen = model.seqLen;
  if (model.maxWindows !== null) evaluation.windows = model.maxWindows;
  // The section in view is the hash the header's links set; only a well-formed one is written back.
  const { panel } = decodeUrlState('', location.hash).state;
  const train = changedTrainFields(useTrainStudio.getState().form, defaultTrainForm());
  return { panel, demo: null, prune: pendingPrune ?? linkedPrune, eval: evaluation, train };
}

let writeQueued = false;

function queueWrite(): void {
  if (writeQueued) return;
  writeQueued = true;
  // One write per burst of store updates (a progress event changes a store many times a second).
  queueMicrotask(() => {
    writeQueued = false;
    const { search, hash } = encodeUrlState(currentState());
    if (search !== location.search || hash !== location.hash) {
      history.replaceState(history.state, '', `${location.pathname}${search}${hash}`);
    }
  });
}

/** Resolves once the capability probe has ended and React has drawn the sections (true) or the no-WebGPU page (false). */
function untilDrawn(): Promise<boolean> {
  return new Promise((resolve) => {
    const check = () => {
      const { status } = useStudio.getState().capability;
      if (status === 'loading') return false;
      requestAnimationFrame(() => resolve(status === 'ready'));
      return true;
    };
    if (check()) return;
    const stop = useStudio.subscribe(() => {
      if (check()) stop();
    });
  });
}

/** Reads the link the page was opened with; returns it so the caller can tell a demo from the studio. */
export function readLink(): UrlState {
  const { state, problems } = decodeUrlState(location.search, location.hash);
  for (const p of problems) report(p);
  return state;
}

/** Applies a link's settings as their stores become ready, then mirrors every change into the address. */
export function startUrlSync(link: UrlState): void {
  const model = useModelStudio.getState();
  if (link.eval.text) model.setEvalText(link.eval.text);
  if (link.eval.windows !== undefined) model.setMaxWindows(link.eval.windows);
  pendingSeqLen = link.eval.seqLen ?? null;
  pendingPrune = Object.keys(link.prune).length > 0 ? link.prune : null;
  if (Object.keys(link.train).length > 0) applyTrain(link.train);

  useModelStudio.subscribe((state) => {
    // The window a link asks for applies once the model is open (opening resets it to the model's default).
    const opened = state.inspect.summary;
    if (pendingSeqLen !== null && state.inspect.status === 'ready' && opened) {
      const seqLen = pendingSeqLen;
      pendingSeqLen = null;
      if (seqLen > opened.context)
        report(`eval.seqLen = "${seqLen}": longer than ${opened.name}'s context of ${opened.context} tokens`);
      else state.setSeqLen(seqLen);
    }
    queueWrite();
  });
  usePruneStudio.subscribe((state) => {
    if (pendingPrune && state.form) {
      const wanted = pendingPrune;
      pendingPrune = null;
      applyPrune(state.form, wanted);
    }
    queueWrite();
  });
  useTrainStudio.subscribe((state, previous) => {
    // Only the form is a link's business; a run's progress events are not.
    if (state.form !== previous.form) queueWrite();
  });
  // The section a link names comes into view once the studio has drawn it.
  const panel = link.panel;
  if (panel) {
    void untilDrawn().then((ready) => {
      if (!ready) return;
      const section = document.getElementById(panel);
      if (section) section.scrollIntoView();
      else report(`#${panel} does not name a section of the studio`);
    });
  }
  queueWrite();
}
