// The paper demo on show, if any: loaded from public/demos/<name>.json by a link (?demo=<name>) or
// from a file the reader opens, then run once, on its own when the author asked for that.

import { create } from 'zustand';
import { useModelStudio } from '../model/modelStore';
import { runEvaluation, runPrune, runTrain } from '../shell/studioActions';
import { type DemoSpec, parseDemo } from './demoSpec';

interface DemoState {
  status: 'none' | 'loading' | 'ready' | 'error';
  /** What is being shown: the demo's name or file name. */
  source: string | null;
  spec: DemoSpec | null;
  error: string | null;
  /** Why the run did not start (the model did not load, a setting the model refuses). */
  runError: string | null;
  /** The model is being opened and loaded and the job started. */
  started: boolean;

  loadByName(name: string): Promise<void>;
  openFile(file: File): Promise<void>;
  run(): Promise<void>;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

function parseText(text: string, base: string): DemoSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`the file is not JSON (${message(error)})`);
  }
  return parseDemo(value, base);
}

export const useDemo = create<DemoState>()((set, get) => ({
  status: 'none',
  source: null,
  spec: null,
  error: null,
  runError: null,
  started: false,

  async loadByName(name) {
    // Beside the site, wherever it is hosted: the page's own folder, not the host's root.
    const url = new URL(`demos/${name}.json`, document.baseURI).href;
    set({ status: 'loading', source: name, spec: null, error: null, runError: null, started: false });
    try {
      let response: Response;
      try {
        response = await fetch(url);
      } catch (error) {
        throw new Error(`${url} could not be fetched (${message(error)}); check the connection.`);
      }
      // Many static hosts answer a missing file with the site's index.html rather than a 404.
      const html = (response.headers.get('Content-Type') ?? '').includes('text/html');
      if (response.status === 404 || (response.ok && html))
        throw new Error(`There is no demo named "${name}" (${url} was not found).`);
      if (!response.ok)
        throw new Error(`${url}: the server answered ${response.status} ${response.statusText}.`);
      set({ status: 'ready', spec: parseText(await response.text(), url) });
    } catch (error) {
      set({ status: 'error', error: message(error) });
    }
  },

  async openFile(file) {
    set({ status: 'loading', source: file.name, spec: null, error: null, runError: null, started: false });
    try {
      set({ status: 'ready', spec: parseText(await file.text(), document.baseURI) });
    } catch (error) {
      set({ status: 'error', error: `${file.name}: ${message(error)}` });
    }
  },

  async run() {
    const { spec, started } = get();
    if (!spec || started) return;
    set({ started: true, runError: null });
    const model = useModelStudio.getState();
    const want = spec.model;
    const current = model.source;
    // The demo's model is opened unless it is the one already chosen.
    if (want.kind === 'url' && !(current.kind === 'url' && current.url === want.url))
      await model.chooseUrl(want.url);
    if (want.kind === 'builtin' && current.kind !== 'builtin') await model.chooseBuiltin();
    const { job } = spec;
    const problem =
      job.kind === 'prune'
        ? await runPrune(job.settings)
        : job.kind === 'eval'
          ? await runEvaluation(job.settings)
          : await runTrain(job.settings);
    // The job itself is followed in its panel's store; `started` only covers opening, loading and starting.
    set({ runError: problem, started: false });
  },
}));
