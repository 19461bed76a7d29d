// The playground: a prompt continued by the loaded (dense) model and by pruned runs side by side,
// tokens streaming into one column per model, each with its speed, the bytes its weights take and
// its perplexity from the pruning run. The models run one after another on the same GPU with the
// same sampling settings and seed, so the columns differ only by their weights.

import { lazy, Suspense } from 'react';
import { DENSE_MODEL, type PruneRun } from '../../worker/api';
import { useModelStudio } from '../model/modelStore';
import { describeMethod, describePattern } from '../pruning/pruneSettings';
import { useCurrentModelName, usePruneStudio } from '../pruning/pruneStore';
import { formatBytes } from '../shell/format';
import { JobButtons } from '../shell/JobButtons';
import { LabelledField } from '../shell/LabelledField';
import type { Column } from './playgroundReducer';
import { type PlaygroundForm, playgroundProblems, usePlayground } from './playgroundStore';

const DecodeSpeedChart = lazy(() =>
  import('./PlaygroundChart').then((m) => ({ default: m.DecodeSpeedChart })),
);

const runLabel = (r: PruneRun, i: number) =>
  `#${i + 1} ${describeMethod(r.summary.options)}, ${describePattern(r.summary.options.pattern)}`;

export function PlaygroundPanel() {
  const loaded = useModelStudio((s) => s.load.loaded);
  const modelBusy = useModelStudio((s) => s.load.status === 'loading' || s.evaluation.status === 'running');
  const pruneRunning = usePruneStudio((s) => s.job.status === 'running');
  const modelName = useCurrentModelName();
  const runs = usePruneStudio((s) => s.runs).filter((r) => r.modelName === modelName);
  const { form, models, job } = usePlayground();
  const { setForm, toggleModel, run, cancel } = usePlayground.getState();
  const problems = playgroundProblems(form);
  const running = job.status === 'running';
  const chosen = models.filter((m) => m === DENSE_MODEL || runs.some((r) => r.id === m && r.exportable));
  const canRun =
    loaded !== null &&
    !running &&
    !modelBusy &&
    !pruneRunning &&
    chosen.length > 0 &&
    !Object.keys(problems).length;
  const labelOf = (model: string) => {
    if (model === DENSE_MODEL) return 'Dense';
    const i = runs.findIndex((r) => r.id === model);
    const r = runs[i];
    return r ? runLabel(r, i) : model;
  };
  const runOf = (model: string) => runs.find((r) => r.id === model) ?? null;
  const denseRun = runs.find((r) => r.pplBefore !== null) ?? null;
  const finished = job.columns.filter((c) => c.result !== null);

  return (
    <section className="card" id="playground" aria-labelledby="playground-title">
      <h2 id="playground-title">Playground</h2>
      <p className="muted">
        Continue a prompt with the loaded model and with pruned runs of it, side by side: the same sampling
        settings and seed, one model after another on this GPU, with the tokens per second, the bytes the
        weights take and the perplexity each run measured. With the sparse kernels on, a pruned run's block
        matrices stay compressed in its pattern (N:M, or a bitmask for unstructured sparsity) and are
        multiplied by the sparse kernels, so its zeros take no bytes; off, they are stored densely.
      </p>
      {!loaded && (
        <p className="muted" data-testid="playground-no-model">
          Load a model in the Model section to generate with it.
        </p>
      )}
      {loaded && (
        <>
          <div className="playground-settings">
            <LabelledField label="Prompt" wide error={problems.prompt}>
              {(control) => (
                <textarea
                  {...control}
                  data-testid="playground-prompt"
                  rows={2}
                  value={form.prompt}
                  disabled={running}
                  onChange={(e) => setForm({ prompt: e.target.value })}
                />
              )}
            </LabelledField>
            {NUMBER_FIELDS.map((f) => (
              <NumberField key={f.field} {...f} form={form} error={problems[f.field]} disabled={running} />
            ))}
          </div>
          <label className="check">
            <input
              type="checkbox"
              data-testid="playground-sparse"
              checked={form.sparseKernels}
              disabled={running}
              onChange={(e) => setForm({ sparseKernels: e.target.checked })}
            />{' '}
            Sparse kernels for pruned runs (compressed weights)
          </label>
          <fieldset className="playground-models" disabled={running}>
            <legend>Models</legend>
            <label>
              <input
                type="checkbox"
                data-testid="playground-model-dense"
                checked={models.includes(DENSE_MODEL)}
                onChange={(e) => toggleModel(DENSE_MODEL, e.target.checked)}
              />{' '}
              Dense ({loaded.summary.name})
            </label>
            {runs.map((r, i) => (
              <label
                key={r.id}
                title={r.exportable ? undefined : 'The worker no longer holds this run’s weights.'}
              >
                <input
                  type="checkbox"
                  data-testid={`playground-model-${i + 1}`}
                  disabled={!r.exportable}
                  checked={models.includes(r.id) && r.exportable}
                  onChange={(e) => toggleModel(r.id, e.target.checked)}
                />{' '}
                {runLabel(r, i)}
                {!r.exportable && ' (weights no longer held)'}
              </label>
            ))}
            {runs.length === 0 && <p className="small muted">Prune the model to add its runs here.</p>}
          </fieldset>
        </>
      )}
      <div className="toolbar">
        <JobButtons
          testIds={['playground-run', 'playground-cancel']}
          label="Generate"
          busyLabel="Generating…"
          running={running}
          disabled={!canRun}
          title={pruneRunning || modelBusy ? 'Wait for the running job to finish.' : undefined}
          cancelRequested={job.cancelRequested}
          onRun={() => run(chosen)}
          onCancel={cancel}
        />
      </div>
      <p className={`summary status-${job.status}`} data-testid="playground-status" aria-live="polite">
        {statusLine(job.status, job.columns)}
      </p>
      {job.error && (
        <div className="notice notice-error" role="alert" data-testid="playground-error">
          <p className="mono">{job.error.message}</p>
          <p>{job.error.advice}</p>
        </div>
      )}
      {job.columns.length > 0 && (
        <div className="playground-columns">
          {job.columns.map((c) => (
            <ColumnView
              key={c.model}
              column={c}
              label={labelOf(c.model)}
              run={runOf(c.model)}
              perplexity={perplexityOf(
                c.model === DENSE_MODEL ? denseRun : runOf(c.model),
                c.model === DENSE_MODEL,
              )}
            />
          ))}
        </div>
      )}
      {finished.length > 1 && (
        <Suspense fallback={null}>
          <DecodeSpeedChart
            points={finished.map((c) => ({
              label: c.model === DENSE_MODEL ? 'dense' : (labelOf(c.model).split(' ')[0] ?? c.model),
              sparsity: runOf(c.model)?.summary.sparsity ?? 0,
              decodeTokensPerSecond: c.result?.decodeTokensPerSecond ?? 0,
            }))}
          />
        </Suspense>
      )}
    </section>
  );
}

function statusLine(status: string, columns: Column[]): string {
  const done = columns.filter((c) => c.status === 'finished').length;
  if (status === 'running') return `Generating: ${done} of ${columns.length} models done.`;
  if (status === 'finished') return `Done: ${columns.length} models.`;
  if (status === 'cancelled') return `Cancelled after ${done} of ${columns.length} models.`;
  if (status === 'failed') return 'Generation failed.';
  return '';
}

/** A run's perplexity after (or, for the dense model, before) with the text it was measured on. */
function perplexityOf(run: PruneRun | null, dense: boolean): string {
  const ppl = dense ? run?.pplBefore : run?.pplAfter;
  if (!run || ppl === null || ppl === undefined) return '— (measured by a pruning run)';
  const text = run.evalText === 'wikitext2' ? 'WikiText-2' : 'TinyStories';
  return `${ppl.toFixed(3)} on ${text}`;
}

function ColumnView({
  column,
  label,
  run,
  perplexity,
}: {
  column: Column;
  label: string;
  run: PruneRun | null;
  perplexity: string;
}) {
  const r = column.result;
  return (
    <article
      className="playground-column"
      data-testid={`playground-column-${column.model}`}
      data-status={column.status}
    >
      <h3>{label}</h3>
      <p className="playground-text" data-testid="playground-text">
        {column.text || (column.status === 'waiting' ? 'Waiting for its turn…' : '')}
      </p>
      <dl className="small">
        <dt>Tokens</dt>
        <dd>
          {column.tokens}
          {column.tokensPerSecond !== null && !r && `, ${column.tokensPerSecond.toFixed(2)} tokens/s so far`}
        </dd>
        {r && (
          <>
            <dt>Decode</dt>
            <dd data-testid="playground-decode">{r.decodeTokensPerSecond.toFixed(2)} tokens/s</dd>
            <dt>Prompt</dt>
            <dd>
              {r.promptTokens} tokens at {r.prefillTokensPerSecond.toFixed(1)} tokens/s
            </dd>
            <dt>Weights</dt>
            <dd data-testid="playground-weights" data-bytes={r.weightBytes}>
              {formatBytes(r.weightBytes)}
              {r.compressed && ` (blocks ${r.compressed === 'nm' ? 'N:M' : 'bitmask'}-compressed)`}
              {run && `, ${(100 * run.summary.sparsity).toFixed(1)}% zeros`}
            </dd>
            <dt>KV cache</dt>
            <dd>{formatBytes(r.cacheBytes)}</dd>
            <dt>Stopped</dt>
            <dd>
              {r.stopReason === 'max-tokens'
                ? 'at the token limit'
                : r.stopReason === 'stop-token'
                  ? 'at an end token'
                  : 'at a stop text'}
            </dd>
          </>
        )}
        <dt>Perplexity</dt>
        <dd>{perplexity}</dd>
      </dl>
    </article>
  );
}

/** The generation's numbers, in the order they stand, with their step and note where they have one. */
const NUMBER_FIELDS: { label: string; field: NumberName; step?: number; note?: string }[] = [
  { label: 'New tokens', field: 'maxNewTokens' },
  { label: 'Temperature', field: 'temperature', step: 0.1, note: '0 is greedy.' },
  { label: 'Top-k', field: 'topK', note: '0: every token.' },
  { label: 'Seed', field: 'seed' },
];

type NumberName = 'maxNewTokens' | 'temperature' | 'topK' | 'seed';

function NumberField({
  label,
  field,
  form,
  note,
  error,
  step,
  disabled,
}: {
  label: string;
  field: NumberName;
  form: PlaygroundForm;
  note?: string;
  error?: string;
  step?: number;
  disabled: boolean;
}) {
  const { setForm } = usePlayground.getState();
  return (
    <LabelledField label={label} error={error} note={note && <small className="hint">{note}</small>}>
      {(control) => (
        <input
          {...control}
          type="number"
          data-testid={`playground-${field}`}
          step={step ?? 1}
          min={0}
          value={Number.isNaN(form[field]) ? '' : form[field]}
          disabled={disabled}
          onChange={(e) => setForm({ [field]: e.target.value === '' ? Number.NaN : Number(e.target.value) })}
        />
      )}
    </LabelledField>
  );
}
