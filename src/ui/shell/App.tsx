// The page: a header, then what the GPU allows. Until the worker answers there is a status line,
// so the page is never empty; without WebGPU the explanation takes the place of the tools. The
// model work comes first; the GPU's report and the kernel check follow, one link away.

import { useEffect } from 'react';
import { DemoLayout } from '../demos/DemoView';
import { useDemo } from '../demos/demoStore';
import { EvalPanel } from '../evaluation/EvalPanel';
import { HistoryPanel } from '../history/HistoryPanel';
import { KernelCheck } from '../kernelCheck/KernelCheck';
import { Microscope } from '../microscope/Microscope';
import { ModelPanel } from '../model/ModelPanel';
import { useModelStudio } from '../model/modelStore';
import { TrainPanel } from '../optimizer/TrainPanel';
import { PlaygroundPanel } from '../playground/PlaygroundPanel';
import { PrunePanel } from '../pruning/PrunePanel';
import { CapabilityCard } from './CapabilityCard';
import { ErrorBoundary } from './ErrorBoundary';
import { LinkProblems } from './LinkProblems';
import { NoWebGpu } from './NoWebGpu';
import { StartCard } from './StartCard';
import { useStudio } from './store';
import { UpdateBanner } from './UpdateBanner';

export function App() {
  const capability = useStudio((s) => s.capability);
  const ready = capability.status === 'ready';
  const demo = useDemo((s) => s.status !== 'none');
  // The built-in model is opened as soon as there is a GPU to check it against.
  useEffect(() => {
    if (ready) useModelStudio.getState().init();
  }, [ready]);

  // The offer of a new version shows over either layout.
  if (demo)
    return (
      <>
        <DemoLayout />
        <UpdateBanner />
      </>
    );

  return (
    <div className="app">
      <header className="app-header">
        <h1>Compression Studio</h1>
        <p className="tagline">
          Compress language models on your own GPU with WebGPU. The model, the data and the work stay on this
          machine.
        </p>
        {ready && (
          <nav className="app-nav" aria-label="Sections">
            <a href="#model">Model</a>
            <a href="#evaluate">Perplexity</a>
            <a href="#prune">Pruning</a>
            <a href="#microscope">Microscope</a>
            <a href="#playground">Playground</a>
            <a href="#train">Optimizer</a>
            <a href="#history">History</a>
            <a href="#gpu">GPU</a>
            <a href="#kernel-check">Kernel check</a>
          </nav>
        )}
      </header>
      <main className="app-main">
        <ErrorBoundary>
          <LinkProblems />
          {capability.status === 'loading' && (
            <p className="card muted" role="status">
              Looking for a WebGPU adapter…
            </p>
          )}
          {capability.status === 'failed' && <NoWebGpu failure={capability.failure} />}
          {capability.status === 'ready' && (
            <>
              <StartCard />
              <ModelPanel />
              <EvalPanel />
              <PrunePanel />
              <Microscope />
              <PlaygroundPanel />
              <TrainPanel />
              <HistoryPanel />
              {/* Anchors for the header's links; the cards themselves stay as they are. */}
              <div id="gpu" className="anchor">
                <CapabilityCard report={capability.report} />
              </div>
              <div id="kernel-check" className="anchor">
                <KernelCheck />
              </div>
            </>
          )}
        </ErrorBoundary>
      </main>
      <UpdateBanner />
    </div>
  );
}
