// The evaluation panel: perplexity of the loaded model on WikiText-2 or TinyStories by the papers'
// protocol (non-overlapping windows of the sequence length), streaming window by window. The final
// number is shown to 4 decimals, with the full double in data-ppl for tests and for copying.

import { lazy, Suspense, useEffect, useState } from 'react';
import { EVAL_BOUNDS, evalProblems } from '../../jobs/evalOptions';
import { EVAL_TEXTS, type EvalText } from '../../model/evaluate';
import type { EvalState } from '../model/modelReducers';
import { useModelStudio } from '../model/modelStore';
import { ErrorNotice } from '../shell/ErrorNotice';
import { formatDuration } from '../shell/format';
import { JobButtons } from '../shell/JobButtons';
import { ProgressRow } from '../shell/ProgressBar';
import { inputLimits } from '../shell/settingsFields';

// recharts is most of the bundle's weight and is needed only once windows arrive.
const EvalChart = lazy(() => import('./EvalChart').then((m) => ({ default: m.EvalChart })));

const TEXTS = Object.keys(EVAL_TEXTS) as EvalText[];

export function EvalPanel() {
  const evaluation = useModelStudio((s) => s.evaluation);
  const loaded = useModelStudio((s) => s.load.loaded);
  const loading = useModelStudio((s) => s.load.status === 'loading');
  const inspected = useModelStudio((s) => s.inspect.summary);
  const evalText = useModelStudio((s) => s.evalText);
  const seqLen = useModelStudio((s) => s.seqLen);
  const maxWindows = useModelStudio((s) => s.maxWindows);
  const tokens = useModelStudio((s) => s.textTokens[s.evalText]);
  const { setEvalText, setSeqLen, setMaxWindows, runEvaluation, cancelEvaluation } =
    useModelStudio.getState();

  const summary = loaded?.summary ?? inspected;
  const context = summary?.context ?? 2048;
  const [seqText, setSeqText] = useState(String(seqLen));
  const [windowsText, setWindowsText] = useState(maxWindows === null ? '' : String(maxWindows));
  // A new model resets the window to its default; a link or a re-run may set both.
  useEffect(() => setSeqText(String(seqLen)), [seqLen]);
  useEffect(() => setWindowsText(maxWindows === null ? '' : String(maxWindows)), [maxWindows]);

  const seqValue = Number(seqText);
  const windowsOf = (text: string) => (text.trim() === '' ? undefined : Number(text));
  // The evaluation job's own checks, so a field says what a run would be refused for.
  const problemsOf = (seqLen: number, maxWindows?: number) =>
    evalProblems({ text: evalText, seqLen, maxWindows }, { maxPositions: context });
  const problems = problemsOf(seqValue, windowsOf(windowsText));
  const seqValid = problems.seqLen === undefined;
  const windowsValid = problems.maxWindows === undefined;
  const available = tokens === undefined || !seqValid ? null : Math.floor(tokens / seqValue);
  const running = evaluation.status === 'running' || evaluation.status === 'preparing';
  const canRun = loaded !== null && !loading && !running && seqValid && windowsValid;

  return (
    <section className="card" id="evaluate" aria-labelledby="eval-title">
      <h2 id="eval-title">Perplexity</h2>
      <p className="muted">
        The papers' protocol: the text is tokenized once, cut into non-overlapping windows of the sequence
        length (the remainder is dropped), and every token of a window predicts the next.
      </p>

      <div className="eval-controls">
        <label className="field">
          <span>Text</span>
          <select
            value={evalText}
            data-testid="eval-text"
            disabled={running}
            onChange={(event) => setEvalText(event.target.value as EvalText)}
          >
            {TEXTS.map((text) => (
              <option key={text} value={text}>
                {EVAL_TEXTS[text].label}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Sequence length</span>
          <input
            type="number"
            {...inputLimits(EVAL_BOUNDS.seqLen)}
            max={context}
            value={seqText}
            data-testid="eval-seq-len"
            aria-invalid={!seqValid}
            disabled={running}
            onChange={(event) => {
              setSeqText(event.target.value);
              const value = Number(event.target.value);
              if (!problemsOf(value).seqLen) setSeqLen(value);
            }}
          />
          <small className="muted">
            The papers use {summary?.paperSeqLen ?? 2048} (OPT, LLaMA)
            {summary ? `; this model's context is ${context.toLocaleString('en-US')}` : ''}.
          </small>
        </label>
        <label className="field">
          <span>Windows</span>
          <input
            type="number"
            {...inputLimits(EVAL_BOUNDS.maxWindows)}
            placeholder="all"
            value={windowsText}
            data-testid="eval-windows"
            aria-invalid={!windowsValid}
            disabled={running}
            onChange={(event) => {
              setWindowsText(event.target.value);
              const value = windowsOf(event.target.value);
              if (!problemsOf(seqValue, value).maxWindows) setMaxWindows(value ?? null);
            }}
          />
          <small className="muted" data-testid="eval-windows-available">
            {available === null
              ? 'all by default'
              : `of ${available.toLocaleString('en-US')} (${tokens?.toLocaleString('en-US')} tokens)`}
          </small>
        </label>
        <div className="eval-buttons">
          <JobButtons
            testIds={['eval-run', 'eval-cancel']}
            running={running}
            disabled={!canRun}
            title={loaded ? undefined : 'Load a model first.'}
            cancelRequested={evaluation.cancelRequested}
            onRun={runEvaluation}
            onCancel={cancelEvaluation}
          />
        </div>
      </div>
      {Object.values(problems).map((problem) => (
        <p key={problem} className="field-error">
          {problem.charAt(0).toUpperCase() + problem.slice(1)}.
        </p>
      ))}

      <ProgressRow
        label="Evaluation progress"
        testId="eval-progress"
        job={{ ...evaluation, status: evaluation.status === 'preparing' ? 'running' : evaluation.status }}
        count={evaluation}
      />
      <p className={`summary status-${evaluation.status}`} data-testid="eval-status" aria-live="polite">
        {summarize(evaluation, loaded !== null)}
      </p>
      {evaluation.degraded && (
        <div className="notice notice-warn" role="status" data-testid="eval-degraded">
          <p>
            The GPU ran out of memory ({evaluation.degraded}). The windows are scored again from the first,
            one per pass: slower, in less memory, and the same perplexity.
          </p>
        </div>
      )}
      {evaluation.resumed && (
        <div className="notice notice-warn" role="status" data-testid="eval-resumed">
          <p>
            The GPU device was lost ({evaluation.resumed.message}). The evaluation continues on a new one from
            the first window not yet scored, with the same perplexity
            {evaluation.resumed.attempt > 1 ? ` (${evaluation.resumed.attempt} devices lost so far)` : ''}.
          </p>
        </div>
      )}
      {evaluation.status === 'error' && <ErrorNotice error={evaluation.error} testId="eval-error" />}

      {(evaluation.runningPpl !== null || evaluation.result) && <EvalNumbers evaluation={evaluation} />}
      {evaluation.points.length > 0 && (
        <Suspense fallback={<p className="muted small">Loading chart…</p>}>
          <EvalChart points={evaluation.points} />
        </Suspense>
      )}
    </section>
  );
}

function EvalNumbers({ evaluation: e }: { evaluation: EvalState }) {
  const result = e.status === 'finished' ? e.result : null;
  return (
    <div className="eval-numbers">
      <div className="eval-big">
        <span className="eval-big-label">
          {result ? 'Perplexity' : e.status === 'running' ? 'Running perplexity' : 'Perplexity so far'}
        </span>
        {result ? (
          <span
            className="eval-big-value"
            data-testid="eval-ppl"
            data-ppl={String(result.ppl)}
            title={String(result.ppl)}
          >
            {result.ppl.toFixed(4)}
          </span>
        ) : (
          <span className="eval-big-value running" data-testid="eval-running-ppl">
            {e.runningPpl === null ? '–' : e.runningPpl.toFixed(4)}
          </span>
        )}
        <span className="muted small">
          {e.label}
          {e.seqLen > 0 && ` · windows of ${e.seqLen} tokens`}
        </span>
      </div>
      <dl className="facts eval-facts">
        <dt>Windows</dt>
        <dd data-testid="eval-windows-done">
          {e.done} / {e.total}
        </dd>
        <dt>Tokens scored</dt>
        <dd>
          {(result?.tokensScored ?? e.done * e.seqLen).toLocaleString('en-US')}{' '}
          <span className="muted small">of {e.tokensInText.toLocaleString('en-US')} in the text</span>
        </dd>
        <dt>Speed</dt>
        <dd data-testid="eval-rate">
          {e.tokensPerSecond === null
            ? '–'
            : `${Math.round(e.tokensPerSecond).toLocaleString('en-US')} tokens/s`}
        </dd>
        <dt>Time</dt>
        <dd>
          {formatDuration(e.elapsedMs)}
          {e.status === 'running' && e.etaMs !== null && e.etaMs > 0 && (
            <span className="muted small"> · {formatDuration(e.etaMs)} left</span>
          )}
        </dd>
        {result && (
          <>
            <dt>Mean NLL</dt>
            <dd>{result.meanNll.toFixed(6)} nats</dd>
          </>
        )}
      </dl>
    </div>
  );
}

function summarize(e: EvalState, hasModel: boolean): string {
  switch (e.status) {
    case 'idle':
      return hasModel ? 'Not run yet.' : 'Load a model to evaluate it.';
    case 'preparing':
      return `Tokenizing ${e.label}…`;
    case 'running':
      return e.total > 0 ? `Window ${Math.min(e.done + 1, e.total)} of ${e.total}…` : 'Starting…';
    case 'finished':
      return `Done: ${e.total} window${e.total === 1 ? '' : 's'} of ${e.seqLen} tokens in ${formatDuration(e.elapsedMs)}.`;
    case 'cancelled':
      return `Cancelled after ${e.done} of ${e.total} windows.`;
    case 'error':
      return `Stopped after ${e.done} of ${e.total || '?'} windows: ${e.error?.kind ?? 'error'}.`;
  }
}
