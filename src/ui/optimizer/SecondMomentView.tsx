// "Inspect the second moment": choose an Adapprox arm and one of its factored matrices, and the
// engine reads that matrix's exact dense V at the arm's next step: its singular spectrum, the best
// error at every rank, the sketch's estimate ξ_k, the target and the rank chosen (docs/algorithms/adapprox.md §4: the
// singular spectrum of the exact V, the paper's Fig. 1 claim of a few dominant singular values).
// Only during a run: after it, the optimizer state is gone with the job.

import { lazy, Suspense, useId, useState } from 'react';
import type { ArmTrace } from './trainReducer';
import { useTrainStudio } from './trainStore';

const SpectrumCharts = lazy(() => import('./TrainCharts').then((m) => ({ default: m.SpectrumCharts })));

export function SecondMomentView({ arms, live }: { arms: readonly ArmTrace[]; live: boolean }) {
  const inspection = useTrainStudio((s) => s.inspection);
  const inspect = useTrainStudio((s) => s.inspect);
  const paused = useTrainStudio((s) => s.job.status === 'paused');
  const candidates = arms.filter((a) => a.ranks && !a.stopped);
  const [armChoice, setArm] = useState<string | null>(null);
  const [matrixChoice, setMatrix] = useState<string | null>(null);
  const arm = candidates.find((a) => a.id === armChoice) ?? candidates[0];
  const names = arm?.ranks?.names ?? [];
  const matrix = matrixChoice && names.includes(matrixChoice) ? matrixChoice : names[0];
  const armId = useId();
  const matrixId = useId();
  const spectrum = inspection.status === 'done' ? inspection.spectrum : null;

  return (
    <section className="second-moment" aria-labelledby={`${armId}-title`} data-testid="train-inspect">
      <h3 id={`${armId}-title`}>Inspect the second moment</h3>
      {candidates.length === 0 ? (
        <p className="muted small">
          {live
            ? 'Available once an Adapprox arm has taken its first step.'
            : 'Run with an Adapprox arm: the spectrum is read during a run (running or paused), at the arm’s next step.'}
        </p>
      ) : (
        <div className="toolbar">
          <label className="field" htmlFor={armId}>
            <span>Adapprox arm</span>
            <select
              id={armId}
              value={arm?.id ?? ''}
              data-testid="train-inspect-arm"
              onChange={(e) => setArm(e.target.value)}
            >
              {candidates.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.label}
                </option>
              ))}
            </select>
          </label>
          <label className="field" htmlFor={matrixId}>
            <span>Matrix</span>
            <select
              id={matrixId}
              value={matrix ?? ''}
              data-testid="train-inspect-matrix"
              onChange={(e) => setMatrix(e.target.value)}
            >
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="button"
            data-testid="train-inspect-run"
            disabled={!live || !arm || !matrix || inspection.status === 'waiting'}
            onClick={() => arm && matrix && void inspect(arm.id, matrix)}
          >
            {inspection.status === 'waiting' ? 'Waiting for the next step…' : 'Inspect at the next step'}
          </button>
          {inspection.status === 'waiting' && paused && (
            <span className="muted small">Resume the run: the spectrum is taken at the arm’s next step.</span>
          )}
        </div>
      )}
      {inspection.status === 'error' && inspection.error && (
        <div className="notice notice-error" role="alert" data-testid="train-inspect-error">
          <p>{inspection.error.message}</p>
          <p>{inspection.error.advice}</p>
        </div>
      )}
      {spectrum && (
        <>
          <p className="small" data-testid="train-inspect-summary" data-rank={spectrum.rank}>
            {spectrum.matrix} of {arms.find((a) => a.id === spectrum.arm)?.label ?? spectrum.arm} at step{' '}
            {spectrum.step}: rank {spectrum.rank} chosen; error there{' '}
            {formatError(spectrum.exactErrors[spectrum.rank])} at best (truncation of the exact V),{' '}
            {formatError(spectrum.sketchErrors[spectrum.rank])} by the sketch; target {spectrum.errorTarget}.
          </p>
          <Suspense fallback={<p className="muted small">Loading charts…</p>}>
            <SpectrumCharts spectrum={spectrum} />
          </Suspense>
        </>
      )}
    </section>
  );
}

const formatError = (x: number | undefined) => (x === undefined ? '—' : x.toExponential(2));
