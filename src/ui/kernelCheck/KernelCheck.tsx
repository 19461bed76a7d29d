// The kernel check panel: runs every kernel family on this GPU against its float64 reference. It
// is the first thing to run on a new machine, because every later result rests on these kernels
// being correct here, on this adapter, with these limits.

import { lazy, Suspense, useState } from 'react';
import { ErrorNotice } from '../shell/ErrorNotice';
import { formatDuration, formatSeed, parseSeed } from '../shell/format';
import { JobButtons } from '../shell/JobButtons';
import { ProgressRow } from '../shell/ProgressBar';
import { useStudio } from '../shell/store';
import { countPassed, type KernelCheckState } from './checkReducer';
import { KernelResultsTable } from './KernelResultsTable';

// recharts is most of the bundle's weight and is needed only once results arrive.
const KernelChart = lazy(() => import('./KernelChart').then((m) => ({ default: m.KernelChart })));

export function KernelCheck() {
  const check = useStudio((s) => s.check);
  const runCheck = useStudio((s) => s.runCheck);
  const cancelCheck = useStudio((s) => s.cancelCheck);
  const [seedText, setSeedText] = useState('');
  const seed = seedText.trim() === '' ? undefined : parseSeed(seedText);
  const running = check.status === 'running';

  return (
    <section className="card" aria-labelledby="kernel-check-title">
      <h2 id="kernel-check-title">Kernel check</h2>
      <p className="muted">
        Every kernel family on fresh random inputs with awkward shapes, compared with a float64 reference
        under a stated error bound, then timed. On a software adapter expect correct results and slow times.
      </p>

      <div className="toolbar">
        <JobButtons
          testIds={['kernel-check-run', 'kernel-check-cancel']}
          label={check.status === 'idle' ? 'Run' : 'Run again'}
          running={running}
          disabled={running || seed === null}
          cancelRequested={check.cancelRequested}
          onRun={() => runCheck(seed == null ? {} : { seed })}
          onCancel={cancelCheck}
        />
        <label className="seed">
          Seed
          <input
            type="text"
            inputMode="numeric"
            spellCheck={false}
            placeholder="fresh"
            value={seedText}
            onChange={(event) => setSeedText(event.target.value)}
            aria-invalid={seed === null}
            title="Leave empty for fresh inputs, or enter a seed (decimal or 0x hex) to replay a run."
          />
        </label>
        {seed === null && <span className="field-error">A seed is a whole number below 2³², or 0x hex.</span>}
      </div>

      <ProgressRow
        label="Kernel check progress"
        testId="kernel-check-progress"
        job={check}
        count={check}
        what="check"
      />

      <p className={`summary status-${check.status}`} data-testid="kernel-check-summary" aria-live="polite">
        {summarize(check)}
      </p>
      {check.status === 'error' && <ErrorNotice error={check.error} />}

      {check.results.length > 0 && (
        <>
          <Suspense fallback={<p className="muted small">Loading chart…</p>}>
            <KernelChart results={check.results} />
          </Suspense>
          <KernelResultsTable results={check.results} />
        </>
      )}
    </section>
  );
}

function summarize(check: KernelCheckState): string {
  const passed = countPassed(check.results);
  const failed = check.results.length - passed;
  const seed = check.seed === null ? '' : ` · seed ${formatSeed(check.seed)}`;
  switch (check.status) {
    case 'idle':
      return 'Not run yet.';
    case 'running':
      return check.total > 0 ? `Running case ${check.done + 1} of ${check.total}…${seed}` : 'Starting…';
    case 'finished': {
      const time = check.ms === null ? '' : ` in ${formatDuration(check.ms)}`;
      const failures = failed > 0 ? `, ${failed} failed` : '';
      return `${passed} / ${check.results.length} passed${failures}${time}${seed}`;
    }
    case 'cancelled':
      return `Cancelled after ${check.done} of ${check.total} cases (${passed} passed${failed > 0 ? `, ${failed} failed` : ''})${seed}`;
    case 'error':
      return `Stopped after ${check.done} of ${check.total || '?'} cases: ${check.error?.kind ?? 'error'}${seed}`;
  }
}
