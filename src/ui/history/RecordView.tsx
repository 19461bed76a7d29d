// One run record on show, from this studio, another browser or the CLI: who made it on what, its
// final numbers, and its charts drawn by the same components as a live run, fed from the record's
// metrics and detail. Series the studio has no chart for are drawn as plain lines.

import { lazy, Suspense } from 'react';
import { traceOf } from '../../run/fistaTraceSeries';
import type { RunRecord } from '../../run/record';
import { describeMethod, describePattern } from '../pruning/pruneSettings';
import { formatDuration } from '../shell/format';
import {
  evalPointsOf,
  isChartedMetric,
  perplexitiesOf,
  pruneSummaryOf,
  type RecordArm,
  trainArmsOf,
  trainTraceOf,
} from './recordBuild';

// recharts is most of the bundle's weight and is needed only once a record is opened.
const charts = () => import('../pruning/PruneCharts');
const ObjectiveChart = lazy(() => charts().then((m) => ({ default: m.ObjectiveChart })));
const LambdaCharts = lazy(() => charts().then((m) => ({ default: m.LambdaCharts })));
const ErrorCharts = lazy(() => charts().then((m) => ({ default: m.ErrorCharts })));
const PerplexityChart = lazy(() => charts().then((m) => ({ default: m.PerplexityChart })));
const trainCharts = () => import('../optimizer/TrainCharts');
const LossChart = lazy(() => trainCharts().then((m) => ({ default: m.LossChart })));
const MemoryChart = lazy(() => trainCharts().then((m) => ({ default: m.MemoryChart })));
const EvalChart = lazy(() => import('../evaluation/EvalChart').then((m) => ({ default: m.EvalChart })));
const MetricChart = lazy(() => import('../shell/MetricChart').then((m) => ({ default: m.MetricChart })));

export const KIND_LABELS: Record<RunRecord['kind'], string> = {
  prune: 'Pruning',
  eval: 'Perplexity',
  train: 'Training',
};

const number = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** 'FISTAPruner (SparseGPT start), 2:4', 'TinyStories, 2 × 64', '4 arms × 40 steps': what the run was, in a line. */
export function describeRecord(record: RunRecord): string {
  const summary = pruneSummaryOf(record);
  if (summary?.options?.pattern && summary.options.fista) {
    return `${describeMethod(summary.options)}, ${describePattern(summary.options.pattern)}`;
  }
  const r = record.results;
  if (record.kind === 'eval')
    return `${String(r.text ?? '?')}, ${String(r.windows ?? '?')} × ${String(r.seqLen ?? '?')}`;
  if (record.kind === 'train') {
    const arms = trainArmsOf(record);
    const steps = number(record.config.steps);
    return `${arms.length} arm${arms.length === 1 ? '' : 's'}${steps === null ? '' : ` × ${steps} steps`}`;
  }
  return typeof r.method === 'string' ? r.method : KIND_LABELS[record.kind];
}

function formatResult(v: number | string | null): string {
  if (v === null) return '—';
  if (typeof v === 'string') return v;
  return Number.isInteger(v) ? v.toLocaleString('en-US') : String(+v.toPrecision(6));
}

/**
 * A training record's curves as a live run draws them: every arm's training and validation loss on
 * one chart, with how many points of each the record holds (the chart thins a curve past 400, as
 * live); then the state bytes beside AdamW's formula, which needs the model's parameter count.
 */
function TrainCurves({ arms, parameters }: { arms: RecordArm[]; parameters: number }) {
  return (
    <>
      <div data-testid="record-train-loss">
        <LossChart arms={arms} />
        <ul className="small muted">
          {arms.map((a) => (
            <li
              key={a.id}
              data-testid="record-train-arm"
              data-arm={a.id}
              data-train-points={a.train.length}
              data-validation-points={a.validation.length}
            >
              {a.label}: {a.train.length} training and {a.validation.length} validation losses
            </li>
          ))}
        </ul>
      </div>
      {parameters > 0 && <MemoryChart arms={arms} parameters={parameters} />}
    </>
  );
}

export function RecordView({ record, onClose }: { record: RunRecord; onClose: () => void }) {
  const summary = pruneSummaryOf(record);
  const trace = traceOf(record);
  const points = record.kind === 'eval' ? evalPointsOf(record) : [];
  const arms = trainTraceOf(record);
  const others = record.metrics.filter((m) => !isChartedMetric(record, m));
  const xi = number((summary?.options as { fista?: { xi?: unknown } } | undefined)?.fista?.xi) ?? 0.3;
  const perplexities = perplexitiesOf(record);
  const total = record.timings.total;

  return (
    <article
      className="record-view"
      data-testid="record-view"
      data-record={record.id}
      aria-labelledby="record-title"
    >
      <div className="toolbar">
        <h3 id="record-title">
          {KIND_LABELS[record.kind]}: {describeRecord(record)}
        </h3>
        <span className={`status-pill status-${record.status}`} data-testid="record-status">
          {record.status}
        </span>
        <button type="button" className="link-button" onClick={onClose}>
          Close
        </button>
      </div>
      <dl className="facts">
        <dt>Model</dt>
        <dd>
          {record.model.name}{' '}
          <span
            className="mono small muted"
            title={record.model.sha256}
            data-testid="record-model-sha256"
            data-value={record.model.sha256}
          >
            sha256 {record.model.sha256.slice(0, 16)}…
          </span>
        </dd>
        {record.data.length > 0 && (
          <>
            <dt>Data</dt>
            <dd>
              {record.data.map((d) => (
                <span key={`${d.name}-${d.sha256}`} className="small" title={d.sha256}>
                  {d.name} <span className="mono muted">{d.sha256.slice(0, 8)}…</span>{' '}
                </span>
              ))}
            </dd>
          </>
        )}
        <dt>Started</dt>
        <dd>
          {new Date(record.startedAt).toLocaleString()}
          {typeof total === 'number' && <span className="muted small"> · took {formatDuration(total)}</span>}
        </dd>
        <dt>Made by</dt>
        <dd data-testid="record-producer">
          {record.producer === 'cli' ? 'the CLI' : 'the studio'} {record.engineVersion} on {record.adapter}
          {record.seed !== null && <span className="muted small"> · seed {record.seed}</span>}
        </dd>
      </dl>
      {record.error && (
        <div className="notice notice-error" role="status">
          <p className="mono">{record.error}</p>
        </div>
      )}

      <table className="table" aria-label="Results">
        <tbody>
          {Object.entries(record.results).map(([key, value]) => (
            <tr key={key}>
              <th scope="row">{key}</th>
              <td className="num" data-testid={`record-result-${key}`} data-value={String(value)}>
                {formatResult(value)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <Suspense fallback={<p className="muted small">Loading charts…</p>}>
        {perplexities.map((p) => (
          <div key={p.text}>
            {perplexities.length > 1 && <h4 className="small">{p.text}</h4>}
            <PerplexityChart before={p.before} after={p.after} />
          </div>
        ))}
        {trace && <ObjectiveChart trace={trace} />}
        {trace && <LambdaCharts trace={trace} xi={xi} />}
        {summary && <ErrorCharts matrices={summary.blocks.flatMap((b) => b.matrices)} />}
        {points.length > 0 && <EvalChart points={points} />}
        {arms && <TrainCurves arms={arms} parameters={record.model.parameters} />}
        {others.map((series) => (
          <MetricChart key={series.name} series={series} />
        ))}
      </Suspense>

      <details className="details">
        <summary>Settings as recorded</summary>
        <pre className="mono small" data-testid="record-config">
          {JSON.stringify(record.config, null, 2)}
        </pre>
      </details>
    </article>
  );
}
