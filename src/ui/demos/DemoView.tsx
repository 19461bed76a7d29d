// A paper demo in a clean layout: the author's title, byline and text, one line on what runs, the
// run's progress with its known total, and its numbers and charts as the studio draws them. No
// settings form: the demo's settings are the author's; the full studio is one link away with them.

import { lazy, Suspense, useEffect, useRef } from 'react';
import '../shell/sharing.css';
import { ARM_VARIANT_ORDER, ARM_VARIANTS } from '../../train/armVariants';
import { PRESETS } from '../../train/modelPresets';
import { useModelStudio } from '../model/modelStore';
import { TrainProgress, trainStatus } from '../optimizer/TrainProgress';
import { ArmsTable } from '../optimizer/TrainTables';
import { TEXT_LABELS } from '../optimizer/trainSettings';
import { useTrainStudio } from '../optimizer/trainStore';
import { PruneProgress, pruneStatus } from '../pruning/PruneProgress';
import { METHOD_LABELS } from '../pruning/pruneSettings';
import { usePruneStudio } from '../pruning/pruneStore';
import { ErrorBoundary } from '../shell/ErrorBoundary';
import { ErrorNotice } from '../shell/ErrorNotice';
import { LinkProblems } from '../shell/LinkProblems';
import { NoWebGpu } from '../shell/NoWebGpu';
import { usePacedValue } from '../shell/pacedValue';
import { useStudio } from '../shell/store';
import { encodeUrlState } from '../shell/urlState';
import { type DemoSpec, parseDemoText } from './demoSpec';
import { useDemo } from './demoStore';

const charts = () => import('../pruning/PruneCharts');
const PruneJobCharts = lazy(() => charts().then((m) => ({ default: m.PruneJobCharts })));
const EvalChart = lazy(() => import('../evaluation/EvalChart').then((m) => ({ default: m.EvalChart })));
const trainCharts = () => import('../optimizer/TrainCharts');
const LossChart = lazy(() => trainCharts().then((m) => ({ default: m.LossChart })));
const MemoryChart = lazy(() => trainCharts().then((m) => ({ default: m.MemoryChart })));

/** 'nano GPT-2 from scratch, 40 steps of 4 × 64 tokens of Tiny Shakespeare, AdamW and Adapprox'. */
function whatTrains(spec: DemoSpec, s: Extract<DemoSpec['job'], { kind: 'train' }>['settings']): string {
  const model =
    s.model === 'loaded'
      ? `Fine-tunes ${spec.model.kind === 'builtin' ? 'the built-in stories260K' : spec.model.url}`
      : `Trains a ${PRESETS[s.preset ?? 'tiny'].label} ${s.family === 'llama' ? 'Llama' : 'GPT-2'} from scratch`;
  const arms = s.arms
    ? ARM_VARIANT_ORDER.filter((v) => s.arms?.[v].on).map((v) => ARM_VARIANTS[v].label)
    : ['AdamW', 'Adafactor', 'CAME', 'Adapprox'];
  const steps = s.steps ? `${s.steps} steps` : 'steps';
  const batch = s.batch && s.seqLen ? ` of ${s.batch} × ${s.seqLen} tokens` : '';
  return `${model}: ${steps}${batch} of ${TEXT_LABELS[s.text ?? 'tinyshakespeare']}, with ${arms.join(', ')} side by side.`;
}

/** 'FISTAPruner, 2:4, calibrated on 8 C4 windows of 64 tokens': the demo's settings in a line. */
function whatRuns(spec: DemoSpec): string {
  const model = spec.model.kind === 'builtin' ? 'the built-in stories260K' : spec.model.url;
  if (spec.job.kind === 'train') return whatTrains(spec, spec.job.settings);
  if (spec.job.kind === 'eval') {
    const s = spec.job.settings;
    const text = s.text === 'tinystories' ? 'TinyStories' : 'WikiText-2';
    const windows = s.windows ? `${s.windows} windows` : 'every window';
    return `Perplexity of ${model} on ${text}, ${windows}${s.seqLen ? ` of ${s.seqLen} tokens` : ''}.`;
  }
  const s = spec.job.settings;
  const pattern = s.pattern === 'nm' ? `${s.n ?? 2}:${s.m ?? 4}` : `${s.sparsity ?? 50}% unstructured`;
  const calibration = s.windows
    ? `, calibrated on ${s.windows} ${s.calibration === 'tinystories' ? 'TinyStories' : 'C4'} windows${s.seqLen ? ` of ${s.seqLen} tokens` : ''}`
    : '';
  return `${METHOD_LABELS[s.method ?? 'fista']} at ${pattern} on ${model}${calibration}.`;
}

/** The full studio with the demo's settings, at the same address without the demo. */
function studioLink(spec: DemoSpec): string {
  const { search } = encodeUrlState({
    panel: null,
    demo: null,
    prune: spec.job.kind === 'prune' ? spec.job.settings : {},
    eval: spec.job.kind === 'eval' ? spec.job.settings : {},
    train: spec.job.kind === 'train' ? spec.job.settings : {},
  });
  const section = { prune: 'prune', eval: 'evaluate', train: 'train' }[spec.job.kind];
  return `${location.pathname}${search}#${section}`;
}

function DemoText({ text }: { text: string }) {
  return (
    <div className="demo-text" data-testid="demo-text">
      {parseDemoText(text).map((pieces, p) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: paragraphs are static text
        <p key={p}>
          {pieces.map((piece, i) => {
            const key = `${p}-${i}`;
            switch (piece.kind) {
              case 'strong':
                return <strong key={key}>{piece.text}</strong>;
              case 'em':
                return <em key={key}>{piece.text}</em>;
              case 'code':
                return <code key={key}>{piece.text}</code>;
              case 'link':
                return (
                  <a key={key} href={piece.href} target="_blank" rel="noreferrer">
                    {piece.text}
                  </a>
                );
              default:
                return <span key={key}>{piece.text}</span>;
            }
          })}
        </p>
      ))}
    </div>
  );
}

function PruneResults() {
  const job = usePruneStudio((s) => s.job);
  const form = usePruneStudio((s) => s.form);
  // As in the panels, the charts redraw at the pace their cost allows (pacedValue.ts).
  const drawnJob = usePacedValue(job, job.status === 'running');
  if (job.status === 'idle') return null;
  const xi = Number(form?.xi ?? 0.3);
  return (
    <>
      <PruneProgress
        job={job}
        evaluate={job.before !== null || job.after !== null || Boolean(form?.evaluate)}
      />
      <p className={`summary status-${job.status}`} data-testid="demo-status" aria-live="polite">
        {pruneStatus(job, true)}
      </p>
      {job.status === 'error' && <ErrorNotice error={job.error} />}
      <Suspense fallback={<p className="muted small">Loading charts…</p>}>
        <PruneJobCharts job={drawnJob} xi={xi} />
      </Suspense>
    </>
  );
}

function EvalResults() {
  const e = useModelStudio((s) => s.evaluation);
  if (e.status === 'idle') return null;
  const status =
    e.status === 'finished' && e.result
      ? `Done: perplexity ${e.result.ppl.toFixed(4)} over ${e.total} windows of ${e.seqLen} tokens.`
      : e.status === 'running'
        ? `Window ${Math.min(e.done + 1, e.total)} of ${e.total || '?'}…`
        : e.status === 'preparing'
          ? `Tokenizing ${e.label}…`
          : e.status === 'cancelled'
            ? `Cancelled after ${e.done} of ${e.total} windows.`
            : `Stopped: ${e.error?.message ?? 'error'}`;
  return (
    <>
      <p className={`summary status-${e.status}`} data-testid="demo-status" aria-live="polite">
        {status}
      </p>
      <Suspense fallback={<p className="muted small">Loading chart…</p>}>
        <EvalChart points={e.points} />
      </Suspense>
    </>
  );
}

function TrainResults() {
  const job = useTrainStudio((s) => s.job);
  const drawnArms = usePacedValue(job.arms, job.status === 'running');
  if (job.status === 'idle') return null;
  return (
    <>
      <TrainProgress job={job} />
      <p className={`summary status-${job.status}`} data-testid="demo-status" aria-live="polite">
        {trainStatus(job)}
      </p>
      {job.status === 'error' && <ErrorNotice error={job.error} />}
      {job.arms.length > 0 && (
        <>
          <ArmsTable job={job} />
          <Suspense fallback={<p className="muted small">Loading charts…</p>}>
            <LossChart arms={drawnArms} />
            <MemoryChart arms={drawnArms} parameters={job.parameters} />
          </Suspense>
        </>
      )}
    </>
  );
}

const RESULTS = { prune: PruneResults, eval: EvalResults, train: TrainResults };

export function DemoView() {
  const { status, spec, error, runError, started, source } = useDemo();
  const capability = useStudio((s) => s.capability);
  const ready = capability.status === 'ready' && status === 'ready' && spec !== null;
  const modelBusy = useModelStudio((s) => s.load.status === 'loading');
  const jobStatus = usePruneStudio((s) => s.job.status);
  const evalStatus = useModelStudio((s) => s.evaluation.status);
  const trainStatusNow = useTrainStudio((s) => s.job.status);
  const kind = spec?.job.kind ?? 'prune';
  const job = { prune: jobStatus, eval: evalStatus, train: trainStatusNow }[kind];
  const Results = RESULTS[kind];
  const busy = started || modelBusy || job === 'running' || job === 'preparing' || job === 'paused';
  // An author's autoRun starts the demo once; after a failure the reader retries with the button.
  const autoStarted = useRef(false);

  useEffect(() => {
    if (ready && spec.autoRun && !autoStarted.current) {
      autoStarted.current = true;
      void useDemo.getState().run();
    }
  }, [ready, spec]);

  if (status === 'loading') {
    return (
      <p className="card muted" role="status">
        Opening the demo {source}…
      </p>
    );
  }
  if (status === 'error' || !spec) {
    return (
      <section className="card notice notice-error" role="alert" data-testid="demo-error">
        <h2>The demo could not be opened</h2>
        <p className="mono">{error}</p>
        <p>
          <a href={location.pathname}>Open the studio</a> instead.
        </p>
      </section>
    );
  }
  return (
    <article className="card demo" data-testid="demo" aria-labelledby="demo-title">
      <h2 id="demo-title" data-testid="demo-title">
        {spec.title}
      </h2>
      {(spec.authors || spec.link) && (
        <p className="demo-byline">
          {spec.authors}
          {spec.authors && spec.link && ' · '}
          {spec.link && (
            <a href={spec.link} target="_blank" rel="noreferrer">
              {spec.link.replace(/^https?:\/\//, '')}
            </a>
          )}
        </p>
      )}
      <DemoText text={spec.text} />
      <p className="small muted" data-testid="demo-what">
        {whatRuns(spec)} Everything runs on this machine's GPU, in this tab.
      </p>
      {capability.status === 'failed' && <NoWebGpu failure={capability.failure} />}
      <div className="toolbar">
        <button
          type="button"
          className="button button-primary"
          data-testid="demo-run"
          disabled={!ready || busy}
          onClick={() => void useDemo.getState().run()}
        >
          {busy ? 'Running…' : job === 'idle' ? 'Run the demo' : 'Run it again'}
        </button>
        <a href={studioLink(spec)} data-testid="demo-studio-link">
          Open these settings in the full studio
        </a>
      </div>
      {modelBusy && <p className="muted small">Loading the model onto the GPU…</p>}
      {runError && (
        <div className="notice notice-error" role="alert" data-testid="demo-run-error">
          <p>{runError}</p>
        </div>
      )}
      <Results />
    </article>
  );
}

/** The page in demo mode: the studio's header without its section links, and the demo alone. */
export function DemoLayout() {
  return (
    <div className="app">
      <header className="app-header">
        <h1>Compression Studio</h1>
        <p className="tagline">A paper demo, run on your own GPU with WebGPU. Nothing leaves this machine.</p>
      </header>
      <main className="app-main">
        <ErrorBoundary>
          <LinkProblems />
          <DemoView />
        </ErrorBoundary>
      </main>
    </div>
  );
}
