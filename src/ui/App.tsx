// The page: a header, then what the GPU allows. Until the worker answers there is a status line,
// so the page is never empty; without WebGPU the explanation takes the place of the tools.

import { CapabilityCard } from './CapabilityCard';
import { ErrorBoundary } from './ErrorBoundary';
import { KernelCheck } from './KernelCheck';
import { NoWebGpu } from './NoWebGpu';
import { useStudio } from './store';

export function App() {
  const capability = useStudio((s) => s.capability);
  return (
    <div className="app">
      <header className="app-header">
        <h1>Compression Studio</h1>
        <p className="tagline">
          Compress language models on your own GPU with WebGPU. The model, the data and the work stay on this
          machine.
        </p>
      </header>
      <main className="app-main">
        <ErrorBoundary>
          {capability.status === 'loading' && (
            <p className="card muted" role="status">
              Looking for a WebGPU adapter…
            </p>
          )}
          {capability.status === 'failed' && <NoWebGpu failure={capability.failure} />}
          {capability.status === 'ready' && (
            <>
              <CapabilityCard report={capability.report} />
              <KernelCheck />
            </>
          )}
        </ErrorBoundary>
      </main>
    </div>
  );
}
