// The Pruning panel: settings with the paper's values beside them, Run and Cancel, the run's
// progress through its stages, the live charts of the operator being solved, and the per-matrix
// record of the finished run. The runs of this session follow in the results table.

import { lazy, Suspense, useEffect, useMemo } from 'react';
import { useModelStudio } from '../model/modelStore';
import { ErrorNotice } from '../shell/ErrorNotice';
import { formatDuration } from '../shell/format';
import { JobButtons } from '../shell/JobButtons';
import { usePacedValue } from '../shell/pacedValue';
import { PruneMatrixTable } from './PruneMatrixTable';
import { PruneProgress, pruneStatus } from './PruneProgress';
import { PruneSettingsForm } from './PruneSettingsForm';
import { buildOptions, devicesOffered, fieldHints } from './pruneSettings';
import { deviceRoom, useCurrentModelName, usePruneStudio } from './pruneStore';
import { ResultsTable } from './ResultsTable';

// recharts is most of the bundle's weight and is needed only once a run reports.
const charts = () => import('./PruneCharts');
const PruneJobCharts = lazy(() => charts().then((m) => ({ default: m.PruneJobCharts })));

export function PrunePanel() {
  const loaded = useModelStudio((s) => s.load.loaded);
  const modelBusy = useModelStudio((s) => s.load.status === 'loading' || s.evaluation.status === 'running');
  const form = usePruneStudio((s) => s.form);
  const job = usePruneStudio((s) => s.job);
  const storage = usePruneStudio((s) => s.storage);
  const { resetForm, run, cancel, loadStorage } = usePruneStudio.getState();
  const summary = loaded?.summary ?? null;
  const modelName = useCurrentModelName();

  // Each model gets its own defaults (calibration is scaled to it).
  useEffect(() => {
    if (summary) resetForm(summary);
  }, [summary, resetForm]);

  useEffect(() => {
    void loadStorage();
  }, [loadStorage]);

  const hints = useMemo(() => (summary ? fieldHints(summary) : {}), [summary]);
  // The devices offered follow the budget and the latest run's plan (job, above).
  useModelStudio((s) => s.budgetBytes);
  const room = deviceRoom();
  const built = form && summary ? buildOptions(form, summary, room) : null;
  const errors = built && !built.ok ? built.errors : {};
  const running = job.status === 'running';
  const canRun = Boolean(built?.ok) && !running && !modelBusy;
  const fistaXi = built?.ok ? built.options.prune.fista.xi : 0.3;
  const live = job.status !== 'idle';
  // The charts redraw at the pace their cost allows (pacedValue.ts); status and tables follow every event.
  const drawnJob = usePacedValue(job, running);

  return (
    <section className="card" id="prune" aria-labelledby="prune-title">
      <h2 id="prune-title">Pruning</h2>
      <p className="muted">
        Prune the loaded model's block matrices (q, k, v, o and the MLP; embeddings, norms and the head stay
        dense) with FISTAPruner or a baseline, block by block on this GPU, and measure perplexity before and
        after on the same windows. A lost GPU device costs at most the block in progress: the run continues on
        a new one.
      </p>

      {!summary && (
        <p className="muted" data-testid="prune-no-model">
          Load a model in the Model section to prune it.
        </p>
      )}
      {form && summary && (
        <>
          <p className="small muted">
            Defaults for <strong>{summary.name}</strong>: the paper's settings, with calibration scaled to the
            model.{' '}
            <button
              type="button"
              className="link-button"
              disabled={running}
              onClick={() => resetForm(summary, true)}
            >
              Reset to defaults
            </button>
          </p>
          <PruneSettingsForm
            form={form}
            hints={hints}
            errors={errors}
            disabled={running}
            maxDevices={devicesOffered(room)}
            storage={storage}
          />
        </>
      )}

      <div className="toolbar">
        <JobButtons
          testIds={['prune-run', 'prune-cancel']}
          running={running}
          disabled={!canRun}
          title={
            summary ? (modelBusy ? 'Wait for the model job to finish.' : undefined) : 'Load a model first.'
          }
          cancelRequested={job.cancelRequested}
          onRun={run}
          onCancel={cancel}
        />
        {built && !built.ok && (
          <span className="field-error" data-testid="prune-form-invalid">
            Fix the settings marked in red to run.
          </span>
        )}
      </div>

      {live && (
        <PruneProgress
          job={job}
          evaluate={job.before !== null || job.after !== null || Boolean(form?.evaluate)}
        />
      )}
      <p className={`summary status-${job.status}`} data-testid="prune-status" aria-live="polite">
        {pruneStatus(job, summary !== null)}
      </p>
      {job.resumes.map((r) => (
        <div key={r.attempt} className="notice notice-warn" role="status" data-testid="prune-resumed">
          <p>
            The GPU device was lost ({r.message}). A new device took over
            {r.stage === 'prune'
              ? ` and the run continued at block ${r.block ?? 0}: the finished blocks were kept.`
              : ` and the ${r.stage === 'before' ? 'dense' : 'pruned'} model's perplexity was measured again.`}
          </p>
        </div>
      ))}
      {job.degraded && (
        <div className="notice notice-warn" role="status" data-testid="prune-degraded">
          <p>
            The GPU ran out of memory ({job.degraded.message}). The{' '}
            {job.degraded.stage === 'prune' ? 'pruning' : 'perplexity pass'} runs again with one window per
            pass and the model streamed block by block: slower, in less memory.
          </p>
        </div>
      )}
      {job.status === 'error' && <ErrorNotice error={job.error} testId="prune-error" />}

      {live && (
        <Suspense fallback={<p className="muted small">Loading charts…</p>}>
          <PruneJobCharts job={drawnJob} xi={fistaXi} />
        </Suspense>
      )}
      {job.run && job.status === 'finished' && (
        <details className="details">
          <summary>
            Every matrix of this run ({job.run.summary.blocks.reduce((n, b) => n + b.matrices.length, 0)}),
            pruned in {formatDuration(job.run.summary.ms)}
          </summary>
          <PruneMatrixTable run={job.run} />
        </details>
      )}

      <ResultsTable modelName={modelName} />
    </section>
  );
}
