// The model panel: choose a model, see what it is and whether it fits before a byte of weights
// moves, then load it onto the GPU with progress. What is loaded is shown apart from what is
// chosen, because choosing another model does not unload the one on the GPU until Load is pressed.

import type { CacheNote, DownloadProgress, ModelSummary } from '../../worker/api';
import { ErrorNotice } from '../shell/ErrorNotice';
import { formatBytes, formatDuration } from '../shell/format';
import { JobButtons } from '../shell/JobButtons';
import { ModelCacheList } from './ModelCacheList';
import { ModelFitCard } from './ModelFitCard';
import { ModelLoadProgress } from './ModelLoadProgress';
import { ModelSourcePicker } from './ModelSourcePicker';
import type { LoadState } from './modelReducers';
import { useModelStudio } from './modelStore';

export function ModelPanel() {
  const inspect = useModelStudio((s) => s.inspect);
  const source = useModelStudio((s) => s.source);
  const load = useModelStudio((s) => s.load);
  const notice = useModelStudio((s) => s.notice);
  const loadModel = useModelStudio((s) => s.loadModel);
  const cancelLoad = useModelStudio((s) => s.cancelLoad);
  const loading = load.status === 'loading';
  const refused = inspect.fit?.verdict === 'does not fit';
  const canLoad = inspect.status === 'ready' && inspect.fit !== null && !refused && !loading;

  return (
    <section className="card" id="model" aria-labelledby="model-title">
      <h2 id="model-title">Model</h2>
      <ModelSourcePicker />

      {inspect.status === 'inspecting' && (
        <p className="muted" role="status" data-testid="model-inspecting">
          {source.kind === 'url'
            ? 'Opening the folder: a model not stored in this browser yet is downloaded whole and stored first…'
            : "Reading the model's headers…"}
        </p>
      )}
      {inspect.status === 'inspecting' && inspect.download && <DownloadLine progress={inspect.download} />}
      {inspect.status === 'ready' && inspect.cache?.dropped && (
        <div className="notice notice-warn" role="status" data-testid="model-cache-dropped">
          <p>{inspect.cache.dropped} It was downloaded again.</p>
        </div>
      )}
      {inspect.status === 'ready' && inspect.cache && (
        <p
          className={`small ${inspect.cache.status === 'uncached' ? 'field-error' : 'muted'}`}
          data-testid="model-cache-note"
          data-status={inspect.cache.status}
        >
          {cacheNoteText(inspect.cache)}
        </p>
      )}
      {inspect.status === 'error' && <ErrorNotice error={inspect.error} testId="model-error" />}

      {inspect.summary && (
        <div className="model-grid">
          <ModelFacts summary={inspect.summary} />
          <ModelFitCard
            fit={inspect.fit}
            options={inspect.fitOptions}
            limits={inspect.limits}
            layers={inspect.summary.layers}
          />
        </div>
      )}

      <div className="toolbar">
        <JobButtons
          testIds={['model-load', 'model-load-cancel']}
          label={loadLabel(inspect.summary, load)}
          busyLabel="Loading…"
          running={loading}
          disabled={!canLoad}
          title={refused ? 'This model does not fit the memory budget; see why above.' : undefined}
          cancelRequested={load.cancelRequested}
          onRun={loadModel}
          onCancel={cancelLoad}
        />
        <span className={`summary status-${load.status}`} data-testid="model-load-status" aria-live="polite">
          {loadSummary(load)}
        </span>
      </div>
      {(loading || load.bytesTotal > 0) && <ModelLoadProgress load={load} />}

      {load.status === 'error' && <ErrorNotice error={load.error} testId="model-load-error" />}
      {!load.loaded && <ErrorNotice error={notice} testId="model-dropped" />}

      <ModelCacheList />
    </section>
  );
}

function DownloadLine({ progress: p }: { progress: DownloadProgress }) {
  const name = p.file.split('/').pop();
  return (
    <p className="small muted" data-testid="model-download">
      Downloading {name}: {formatBytes(p.bytesDone)}
      {p.bytesTotal !== null && ` of ${formatBytes(p.bytesTotal)}`}{' '}
      {p.bytesTotal !== null && p.bytesTotal > 0 && (
        <progress max={p.bytesTotal} value={p.bytesDone} aria-label={`Download of ${name}`} />
      )}
    </p>
  );
}

function cacheNoteText(note: CacheNote): string {
  const when = note.storedAt ? new Date(note.storedAt).toLocaleString() : '';
  switch (note.status) {
    case 'hit':
      return `Opened from this browser's storage (stored ${when}; ${formatBytes(note.bytes)} checked against their sha256): nothing was downloaded.`;
    case 'stored':
      return `Downloaded and stored in this browser (${formatBytes(note.bytes)}): the next open needs no network.`;
    case 'uncached':
      return `Opened from the network and not stored: ${note.reason}.`;
  }
}

function loadLabel(summary: ModelSummary | null, load: LoadState): string {
  if (summary && load.loaded?.summary.name === summary.name) return 'Load again';
  return 'Load';
}

function loadSummary(load: LoadState): string {
  const loaded = load.loaded;
  switch (load.status) {
    case 'loading':
      return `Loading ${load.name ?? ''}${load.residency ? ` (${load.residency})` : ''}…`;
    case 'cancelled':
      return loaded
        ? `Load cancelled; ${loaded.summary.name} is still loaded.`
        : 'Load cancelled; no model is on the GPU.';
    case 'error':
      return loaded
        ? `Load failed; ${loaded.summary.name} is still loaded.`
        : 'Load failed; no model is loaded.';
    default:
      if (!loaded) return 'No model loaded.';
      return (
        `Loaded ${loaded.summary.name}: ${loaded.residency === 'resident' ? 'resident' : 'streamed block by block'}, ` +
        `${formatBytes(loaded.bytesUploaded)} on the GPU, tokenizer ${loaded.tokenizer}, in ${formatDuration(loaded.ms)}.`
      );
  }
}

function ModelFacts({ summary: s }: { summary: ModelSummary }) {
  return (
    <div data-testid="model-summary">
      <h3>{s.name}</h3>
      <dl className="facts">
        <dt>Family</dt>
        <dd>
          {FAMILY_NAMES[s.family]} <span className="muted small">({s.format})</span>
        </dd>
        <dt>Parameters</dt>
        <dd title={s.parameters.toLocaleString('en-US')}>{formatCount(s.parameters)}</dd>
        <dt>Layers</dt>
        <dd>{s.layers}</dd>
        <dt>Hidden</dt>
        <dd>
          {s.hidden} <span className="muted small">· MLP {s.ffnHidden}</span>
        </dd>
        <dt>Heads</dt>
        <dd>
          {s.heads} query · {s.kvHeads} key/value <span className="muted small">· {s.headDim} per head</span>
        </dd>
        <dt>Vocabulary</dt>
        <dd>{s.vocabSize.toLocaleString('en-US')}</dd>
        <dt>Context</dt>
        <dd>{s.context.toLocaleString('en-US')} tokens</dd>
        <dt>Weights</dt>
        <dd>
          {formatBytes(s.weightBytes)} <span className="muted small">in {s.weightFiles.join(', ')}</span>
        </dd>
        <dt>Tokenizer</dt>
        <dd>
          {s.tokenizerFiles.length > 0 ? (
            s.tokenizerFiles.join(', ')
          ) : (
            <span className="field-error">none found: evaluation needs one</span>
          )}
        </dd>
      </dl>
    </div>
  );
}

const FAMILY_NAMES: Record<ModelSummary['family'], string> = {
  gpt2: 'GPT-2',
  opt: 'OPT',
  llama: 'Llama',
};

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}
