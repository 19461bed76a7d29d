// Every pruning run of this session on the current model: settings, sparsity and perplexity before
// and after, downloadable as CSV or JSON; per run, the pruned model as a .tar (model.safetensors,
// config.json, tokenizer, summary.json), a place under the microscope, or forgetting it.

import { lazy, Suspense } from 'react';
import type { PruneRun } from '../../worker/api';
import { Button } from '../shell/Button';
import { downloadBytes } from '../shell/download';
import { ErrorNotice } from '../shell/ErrorNotice';
import { formatDuration } from '../shell/format';
import { ACTIONS, num, ScrollTable } from '../shell/TableHead';
import { runsCsv, runsJson, safeName } from './pruneExport';
import { describeMethod, describePattern } from './pruneSettings';
import { usePruneStudio } from './pruneStore';

const SparsityScatter = lazy(() => import('./PruneCharts').then((m) => ({ default: m.SparsityScatter })));

const ppl = (v: number | null) => (v === null ? '—' : v.toFixed(3));

export function ResultsTable({ modelName }: { modelName: string | null }) {
  const allRuns = usePruneStudio((s) => s.runs);
  const exporting = usePruneStudio((s) => s.exporting);
  const exportError = usePruneStudio((s) => s.exportError);
  const microscope = usePruneStudio((s) => s.microscope);
  const { exportRun, forgetRun, setMicroscope } = usePruneStudio.getState();
  const runs = allRuns.filter((r) => r.modelName === modelName);
  if (runs.length === 0) return null;
  const latest = runs[runs.length - 1] as PruneRun;
  const base = safeName(`${(modelName ?? 'model').replace(/\s*\(built-in\)$/, '')}-pruning-runs`);

  return (
    <div className="results-block" data-testid="prune-results">
      <h3 id="prune-results-title">Runs on this model</h3>
      <div className="toolbar">
        <Button
          testId="prune-results-csv"
          onClick={() => downloadBytes(`${base}.csv`, runsCsv(runs), 'text/csv')}
        >
          Download CSV
        </Button>
        <Button
          testId="prune-results-json"
          onClick={() => downloadBytes(`${base}.json`, runsJson(runs), 'application/json')}
        >
          Download JSON
        </Button>
      </div>
      <ErrorNotice error={exportError} testId="prune-export-error" />
      <ScrollTable
        className="table prune-runs"
        aria-labelledby="prune-results-title"
        columns={[
          '#',
          'Method',
          'Pattern',
          num('Sparsity'),
          'Calibration',
          'Perplexity on',
          num('Before'),
          num('After'),
          num('Time'),
          ACTIONS,
        ]}
      >
        {runs.map((r, i) => {
          const o = r.summary.options;
          const underLens = microscope.runA === r.id || microscope.runB === r.id;
          return (
            <tr
              key={r.id}
              data-testid="prune-run-row"
              data-run={r.id}
              className={underLens ? 'selected-row' : undefined}
            >
              <th scope="row" title={`${r.id}, ${r.createdAt}`}>
                {i + 1}
              </th>
              <td>
                {describeMethod(o)}
                {o.method === 'fista' && (
                  <span className="muted small">
                    {' '}
                    K {o.fista.iterations}, T {o.fista.rounds}, ξ {o.fista.xi}
                  </span>
                )}
              </td>
              <td>{describePattern(o.pattern)}</td>
              <td className="num" data-testid="prune-run-sparsity" data-sparsity={String(r.summary.sparsity)}>
                {(100 * r.summary.sparsity).toFixed(2)}%
              </td>
              <td className="small">
                {o.calibration.windows} × {o.calibration.seqLen} of {r.calibrationLabel.split(' (')[0]}, seed{' '}
                {o.calibration.seed}
              </td>
              <td className="small">
                {r.evalText === null
                  ? '—'
                  : `${r.evalText === 'wikitext2' ? 'WikiText-2' : 'TinyStories'}, ${r.windows} × ${r.seqLen}`}
              </td>
              <td className="num" data-testid="prune-run-before">
                {ppl(r.pplBefore)}
              </td>
              <td className="num" data-testid="prune-run-after" data-ppl={r.pplAfter ?? undefined}>
                {ppl(r.pplAfter)}
              </td>
              <td className="num">
                {formatDuration(r.totalMs)}
                {r.resumes > 0 && (
                  <span className="badge badge-warn" title="Lost devices survived">
                    ↻{r.resumes}
                  </span>
                )}
              </td>
              <td className="row-actions">
                <button
                  type="button"
                  className="button button-small"
                  data-testid="prune-run-inspect"
                  onClick={() => {
                    setMicroscope({
                      runA: r.id,
                      ...(microscope.runB === r.id ? { runB: microscope.runA } : {}),
                    });
                    document.getElementById('microscope')?.scrollIntoView({ behavior: 'smooth' });
                  }}
                >
                  Microscope
                </button>
                <button
                  type="button"
                  className="button button-small"
                  data-testid="prune-run-export"
                  disabled={!r.exportable || exporting !== null}
                  title={
                    r.exportable
                      ? 'model.safetensors, config.json, tokenizer and summary.json in one .tar'
                      : 'The worker keeps the weights of the newest two runs only; rerun this one to export it.'
                  }
                  onClick={() => void exportRun(r.id)}
                >
                  {exporting === r.id ? 'Exporting…' : 'Export model'}
                </button>
                <button
                  type="button"
                  className="button button-small"
                  aria-label={`Forget run ${i + 1}`}
                  onClick={() => void forgetRun(r.id)}
                >
                  Forget
                </button>
              </td>
            </tr>
          );
        })}
      </ScrollTable>
      <Suspense fallback={null}>
        <SparsityScatter runs={runs} reference={latest} />
      </Suspense>
    </div>
  );
}
