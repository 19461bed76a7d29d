// The Optimizer panel: train a small model with AdamW, Adafactor, CAME and Adapprox (and its
// ablations) side by side on the same batches, and watch the losses, the optimizer-state bytes,
// Adapprox's ranks and errors, and the step time. Run, Pause/Resume and Cancel; progress counts
// arm-steps against a known total with an ETA. Every run's arms can then be saved or opened in the
// pruning studio.

import { lazy, Suspense, useEffect } from 'react';
import { useModelStudio } from '../model/modelStore';
import { usePruneStudio } from '../pruning/pruneStore';
import { ErrorNotice } from '../shell/ErrorNotice';
import { JobButtons } from '../shell/JobButtons';
import { usePacedValue } from '../shell/pacedValue';
import { RankHeatmap } from './RankHeatmap';
import { SecondMomentView } from './SecondMomentView';
import { TrainProgress, trainStatus } from './TrainProgress';
import { TrainRunsTable } from './TrainRunsTable';
import { TrainSettingsForm } from './TrainSettingsForm';
import { ArmsTable, MemoryTable, RankTable } from './TrainTables';
import { buildTrainOptions } from './trainSettings';
import { useTrainStudio } from './trainStore';

// recharts is most of the bundle's weight and is needed only once a run reports.
const charts = () => import('./TrainCharts');
const LossChart = lazy(() => charts().then((m) => ({ default: m.LossChart })));
const MemoryChart = lazy(() => charts().then((m) => ({ default: m.MemoryChart })));
const StepTimeChart = lazy(() => charts().then((m) => ({ default: m.StepTimeChart })));
const SpeedChart = lazy(() => charts().then((m) => ({ default: m.SpeedChart })));
const ErrorChart = lazy(() => charts().then((m) => ({ default: m.ErrorChart })));

export function TrainPanel() {
  const form = useTrainStudio((s) => s.form);
  const job = useTrainStudio((s) => s.job);
  const adapprox = useTrainStudio((s) => s.adapprox);
  const { run, pause, resume, cancel, resetForm, loadAdapproxDefaults } = useTrainStudio.getState();
  const loaded = useModelStudio((s) => s.load.loaded?.summary ?? null);
  const otherJob = useModelStudio((s) => s.load.status === 'loading' || s.evaluation.status === 'running');
  const pruning = usePruneStudio((s) => s.job.status === 'running');

  useEffect(() => {
    void loadAdapproxDefaults();
  }, [loadAdapproxDefaults]);

  const built = buildTrainOptions(form, loaded && { name: loaded.name, context: loaded.context });
  const errors = built.ok ? {} : built.errors;
  const active = job.status === 'preparing' || job.status === 'running' || job.status === 'paused';
  const busyElsewhere = otherJob || pruning;
  const canRun = built.ok && !active && !busyElsewhere;
  // The charts, the heat map and the rank table redraw at the pace their cost allows (pacedValue.ts);
  // progress, status and the arm and memory tables follow every event.
  const drawnArms = usePacedValue(job.arms, job.status === 'running');
  const adapproxArms = drawnArms.filter((a) => a.ranks);
  const errorTarget = adapprox?.errorThreshold ?? null;

  return (
    <section className="card" id="train" aria-labelledby="train-title">
      <h2 id="train-title">Optimizer</h2>
      <p className="muted">
        Train a small language model on this GPU with a memory-lean optimizer beside its baselines: every arm
        starts from the same weights and sees the same batches in the same order, each at its own learning
        rate on the same schedule. Adapprox keeps its second moment as rank-k factors chosen per matrix and
        step; the charts show what that saves, what it costs, and how good the approximation is.
      </p>

      <p className="small muted">
        <button type="button" className="link-button" disabled={active} onClick={resetForm}>
          Reset to defaults
        </button>
      </p>
      <TrainSettingsForm
        form={form}
        errors={errors}
        disabled={active}
        loadedName={loaded?.name ?? null}
        methods={adapprox?.methods ?? null}
      />

      <div className="toolbar">
        <JobButtons
          testIds={['train-run', 'train-cancel']}
          running={active}
          disabled={!canRun}
          title={busyElsewhere ? 'Wait for the model job or the pruning run to finish.' : undefined}
          cancelRequested={job.cancelRequested}
          onRun={run}
          onCancel={cancel}
        >
          {job.status === 'paused' ? (
            <button type="button" className="button" data-testid="train-resume" onClick={() => void resume()}>
              Resume
            </button>
          ) : (
            <button
              type="button"
              className="button"
              data-testid="train-pause"
              disabled={!active || job.pauseRequested || job.cancelRequested}
              onClick={() => void pause()}
            >
              {job.pauseRequested ? 'Pausing…' : 'Pause'}
            </button>
          )}
        </JobButtons>
        {!built.ok && (
          <span className="field-error" data-testid="train-form-invalid">
            Fix the settings marked in red to run.
          </span>
        )}
      </div>

      {job.status !== 'idle' && <TrainProgress job={job} />}
      <p className={`summary status-${job.status}`} data-testid="train-status" aria-live="polite">
        {trainStatus(job)}
      </p>
      {job.status === 'error' && <ErrorNotice error={job.error} testId="train-error" />}
      {job.resumes.map((r) => (
        <div key={r.attempt} className="notice notice-warn" role="status" data-testid="train-resumed">
          <p>
            The GPU device was lost ({r.message}). A new device took over and the run continued from the
            checkpoint of step {r.step} (weights and optimizer state): the steps after it were taken again.
          </p>
        </div>
      ))}
      {job.degraded && (
        <div className="notice notice-warn" role="status" data-testid="train-degraded">
          <p>
            The GPU ran out of memory ({job.degraded.message}). The run continued from the checkpoint of step{' '}
            {job.degraded.step} with one arm at a time on the GPU (the others wait in this tab's memory): the
            same steps, slower, in less GPU memory.
          </p>
        </div>
      )}
      {job.arms.flatMap((a) =>
        a.stopped
          ? [
              <div
                key={a.id}
                className="notice notice-warn"
                role="status"
                data-testid="train-arm-stopped"
                data-arm={a.id}
              >
                <p>
                  <strong>{a.label}</strong> {a.stopped.message}
                </p>
              </div>,
            ]
          : [],
      )}

      {job.arms.length > 0 && (
        <>
          <ArmsTable job={job} />
          <Suspense fallback={<p className="muted small">Loading charts…</p>}>
            <LossChart arms={drawnArms} />
            <div className="chart-pair">
              <MemoryChart arms={drawnArms} parameters={job.parameters} />
              <StepTimeChart arms={drawnArms} />
            </div>
            <MemoryTable arms={job.arms} parameters={job.parameters} />
            <SpeedChart arms={drawnArms} />
            {adapproxArms.map((a) =>
              a.ranks ? (
                <div key={a.id} className="adapprox-arm">
                  <RankHeatmap trace={a.ranks} label={a.label} />
                  {errorTarget !== null && (
                    <ErrorChart trace={a.ranks} label={a.label} target={errorTarget} />
                  )}
                  <RankTable arm={a.id} trace={a.ranks} />
                </div>
              ) : null,
            )}
          </Suspense>
        </>
      )}
      <SecondMomentView arms={job.arms} live={job.status === 'running' || job.status === 'paused'} />

      <TrainRunsTable
        onOpened={() => document.getElementById('model')?.scrollIntoView({ behavior: 'smooth' })}
      />
    </section>
  );
}
