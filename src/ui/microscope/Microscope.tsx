// The sparsity microscope: any pruned matrix of any run, as a zoomable, pannable heatmap of its
// mask with row and column density strips; an N:M view that colours groups valid or invalid; and a
// compare mode with two runs side by side, their difference (kept in A only, B only, both) and the
// overlap of the kept sets as a Jaccard index.

import { useCallback, useEffect, useMemo, useState } from 'react';
import type { PruneRun } from '../../worker/api';
import { describeMethod, describePattern } from '../pruning/pruneSettings';
import { fetchMask, type MicroscopeMode, useCurrentModelName, usePruneStudio } from '../pruning/pruneStore';
import { Button } from '../shell/Button';
import { ErrorNotice } from '../shell/ErrorNotice';
import type { JobError } from '../shell/jobState';
import { NmField } from '../shell/NmField';
import { fitView, type Size, zoomAt } from '../shell/viewport';
import { MicroscopeCanvas } from './MicroscopeCanvas';
import { diffMasks, type MaskDiff } from './maskCompare';
import {
  analyzeMask,
  checkNm,
  densityImage,
  type Mask,
  type MaskAnalysis,
  maskBit,
  type NmCheck,
  paintDiff,
  paintMask,
  paintNm,
  stripDensity,
  type View,
} from './maskGrid';

type Loaded =
  | { status: 'idle' | 'loading' }
  | { status: 'ready'; mask: Mask }
  | { status: 'error'; error: JobError };

/** A run's mask of a matrix, fetched from the worker when the choice changes. */
function useMask(runId: string | null, tensor: string | null): Loaded {
  const [state, setState] = useState<Loaded>({ status: 'idle' });
  useEffect(() => {
    if (!runId || !tensor) {
      setState({ status: 'idle' });
      return;
    }
    let live = true;
    setState({ status: 'loading' });
    void fetchMask(runId, tensor).then((answer) => {
      if (!live) return;
      if (answer.ok)
        setState({ status: 'ready', mask: { rows: answer.rows, cols: answer.cols, bits: answer.bits } });
      else
        setState({
          status: 'error',
          error: { kind: answer.kind, message: answer.message, advice: answer.advice },
        });
    });
    return () => {
      live = false;
    };
  }, [runId, tensor]);
  return state;
}

const runLabel = (r: PruneRun, i: number) =>
  `#${i + 1} ${describeMethod(r.summary.options)}, ${describePattern(r.summary.options.pattern)}`;

export function Microscope() {
  const modelName = useCurrentModelName();
  const allRuns = usePruneStudio((s) => s.runs);
  const choice = usePruneStudio((s) => s.microscope);
  const setMicroscope = usePruneStudio((s) => s.setMicroscope);
  const runs = allRuns.filter((r) => r.modelName === modelName);
  // A run of another model (the model changed) gives way to this model's newest run.
  const runA = runs.find((r) => r.id === choice.runA) ?? runs.at(-1) ?? null;
  const runB = runs.find((r) => r.id === choice.runB && r.id !== runA?.id) ?? null;
  const tensors = runA?.summary.blocks.flatMap((b) => b.matrices.map((m) => m.tensor)) ?? [];
  const tensor = choice.tensor && tensors.includes(choice.tensor) ? choice.tensor : (tensors[0] ?? null);
  const pattern = runA?.summary.options.pattern;
  const [nmText, setNmText] = useState<{ n: string; m: string } | null>(null);
  const nm =
    nmText ?? (pattern?.kind === 'nm' ? { n: String(pattern.n), m: String(pattern.m) } : { n: '2', m: '4' });
  const n = Number(nm.n);
  const m = Number(nm.m);
  const nmValid = Number.isInteger(n) && Number.isInteger(m) && n >= 1 && m >= 2 && n < m;

  const a = useMask(runA?.id ?? null, tensor);
  const b = useMask(choice.mode === 'compare' ? (runB?.id ?? null) : null, tensor);
  const maskA = a.status === 'ready' ? a.mask : null;
  const maskB = b.status === 'ready' ? b.mask : null;

  const analysisA = useMemo(() => (maskA ? analyzeMask(maskA) : null), [maskA]);
  const nmCheck = useMemo(
    () => (maskA && choice.mode === 'nm' && nmValid ? checkNm(maskA, n, m) : null),
    [maskA, choice.mode, nmValid, n, m],
  );
  const invalidAnalysis = useMemo(() => (nmCheck ? analyzeMask(nmCheck.invalidMask) : null), [nmCheck]);
  const comparable = maskA && maskB && maskA.rows === maskB.rows && maskA.cols === maskB.cols;
  const analysisB = useMemo(
    () => (maskB && choice.mode === 'compare' ? analyzeMask(maskB) : null),
    [maskB, choice.mode],
  );
  const diff = useMemo(
    () => (comparable && maskA && maskB ? diffMasks(maskA, maskB) : null),
    [comparable, maskA, maskB],
  );
  const diffAnalyses = useMemo(
    () =>
      diff
        ? { both: analyzeMask(diff.both), onlyA: analyzeMask(diff.onlyA), onlyB: analyzeMask(diff.onlyB) }
        : null,
    [diff],
  );

  // One view for every canvas, reset when the matrix changes.
  const [view, setView] = useState<View | null>(null);
  const [size, setSize] = useState<Size | null>(null);
  const [hover, setHover] = useState<{ row: number; col: number } | null>(null);
  const viewKey = `${maskA?.rows}×${maskA?.cols}|${tensor}|${choice.mode}`;
  // biome-ignore lint/correctness/useExhaustiveDependencies: the key names what resets the view
  useEffect(() => setView(null), [viewKey]);
  const onView = useCallback((v: View, s: Size) => {
    setView(v);
    setSize(s);
  }, []);

  if (runs.length === 0) {
    return (
      <section className="card" id="microscope" aria-labelledby="microscope-title">
        <h2 id="microscope-title">Sparsity microscope</h2>
        <p className="muted" data-testid="microscope-empty">
          Prune the model to look at its masks here: every kept and pruned weight of any matrix, N:M groups,
          and two runs compared.
        </p>
      </section>
    );
  }

  const rows = maskA?.rows ?? 0;
  const cols = maskA?.cols ?? 0;
  const zoomBy = (factor: number) => {
    if (view && size) setView(zoomAt(view, factor, size.width / 2, size.height / 2, rows, cols, size));
  };

  return (
    <section className="card" id="microscope" aria-labelledby="microscope-title">
      <h2 id="microscope-title">Sparsity microscope</h2>
      <p className="muted">
        Each pixel is the share of weights kept in the entries it covers (dark: kept, pale: pruned); zoom in
        until single weights show. The strips give the density of the rows (left) and columns (top) in view.
      </p>
      <div className="microscope-controls">
        <RunSelect
          label={choice.mode === 'compare' ? 'Run A' : 'Run'}
          value={runA?.id ?? ''}
          runs={runs}
          testId="microscope-run-a"
          onChange={(id) => setMicroscope({ runA: id })}
        />
        <label className="field">
          <span>Matrix</span>
          <select
            value={tensor ?? ''}
            data-testid="microscope-tensor"
            onChange={(e) => setMicroscope({ tensor: e.target.value })}
          >
            {runA?.summary.blocks.flatMap((bl) =>
              bl.matrices.map((mx) => (
                <option key={mx.tensor} value={mx.tensor}>
                  {mx.tensor} ({mx.rows}×{mx.cols}, {(100 * mx.sparsity).toFixed(1)}% zero)
                </option>
              )),
            )}
          </select>
        </label>
        <fieldset className="field plain">
          <legend>View</legend>
          <div className="segmented">
            {(
              [
                ['mask', 'Mask'],
                ['nm', 'N:M groups'],
                ['compare', 'Compare'],
              ] as [MicroscopeMode, string][]
            ).map(([mode, text]) => (
              <button
                key={mode}
                type="button"
                className={`button button-small${choice.mode === mode ? ' selected' : ''}`}
                aria-pressed={choice.mode === mode}
                data-testid={`microscope-mode-${mode}`}
                onClick={() => setMicroscope({ mode })}
              >
                {text}
              </button>
            ))}
          </div>
        </fieldset>
        {choice.mode === 'nm' && (
          <NmField nm={nm} labels={['N', 'M']} invalid={[!nmValid, !nmValid]} onChange={setNmText} />
        )}
        {choice.mode === 'compare' && (
          <RunSelect
            label="Run B"
            value={runB?.id ?? ''}
            runs={runs}
            skip={runA?.id}
            placeholder="Choose a run…"
            testId="microscope-run-b"
            onChange={(id) => setMicroscope({ runB: id || null })}
          />
        )}
        <fieldset className="field plain">
          <legend className="visually-hidden">Zoom</legend>
          <div className="microscope-zoom">
            <Button small aria-label="Zoom in" onClick={() => zoomBy(2)}>
              +
            </Button>
            <Button small aria-label="Zoom out" onClick={() => zoomBy(0.5)}>
              −
            </Button>
            <Button small testId="microscope-fit" onClick={() => size && setView(fitView(rows, cols, size))}>
              Fit
            </Button>
          </div>
        </fieldset>
      </div>

      {a.status === 'loading' && <p className="muted small">Fetching the mask…</p>}
      {a.status === 'error' && <ErrorNotice error={a.error} />}
      {b.status === 'error' && <ErrorNotice error={b.error} />}
      {choice.mode === 'compare' && !runB && (
        <p className="muted" data-testid="microscope-need-b">
          {runs.length > 1
            ? 'Choose run B to compare.'
            : 'Prune again (another method or pattern) to compare two runs.'}
        </p>
      )}
      {choice.mode === 'compare' && maskA && maskB && !comparable && (
        <p className="field-error">
          The two runs' matrices differ in shape; they come from different models.
        </p>
      )}

      {analysisA && maskA && choice.mode !== 'compare' && (
        <SingleView
          analysis={analysisA}
          nm={choice.mode === 'nm' ? nmCheck : null}
          invalid={choice.mode === 'nm' ? invalidAnalysis : null}
          view={view}
          onView={onView}
          hover={hover}
          onHover={setHover}
          tensor={tensor ?? ''}
        />
      )}
      {choice.mode === 'compare' && analysisA && analysisB && diff && diffAnalyses && runA && runB && (
        <CompareView
          a={analysisA}
          b={analysisB}
          diff={diff}
          diffAnalyses={diffAnalyses}
          labels={[runLabel(runA, runs.indexOf(runA)), runLabel(runB, runs.indexOf(runB))]}
          view={view}
          onView={onView}
          hover={hover}
          onHover={setHover}
          tensor={tensor ?? ''}
        />
      )}
    </section>
  );
}

/** A select over this model's runs, each named as the results table numbers it. */
function RunSelect({
  label,
  value,
  runs,
  skip,
  placeholder,
  testId,
  onChange,
}: {
  label: string;
  value: string;
  runs: PruneRun[];
  /** A run not to offer (the other side of a comparison). */
  skip?: string;
  /** The empty choice, where none may be chosen. */
  placeholder?: string;
  testId: string;
  onChange: (id: string) => void;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <select value={value} data-testid={testId} onChange={(e) => onChange(e.target.value)}>
        {placeholder && <option value="">{placeholder}</option>}
        {runs.map((r, i) =>
          r.id === skip ? null : (
            <option key={r.id} value={r.id}>
              {runLabel(r, i)}
            </option>
          ),
        )}
      </select>
    </label>
  );
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

interface ViewProps {
  view: View | null;
  onView: (view: View, size: Size) => void;
  hover: { row: number; col: number } | null;
  onHover: (entry: { row: number; col: number } | null) => void;
  tensor: string;
}

function SingleView({
  analysis,
  nm,
  invalid,
  view,
  onView,
  hover,
  onHover,
  tensor,
}: ViewProps & { analysis: MaskAnalysis; nm: NmCheck | null; invalid: MaskAnalysis | null }) {
  const { rows, cols } = analysis.mask;
  const paint = useCallback(
    (v: View, w: number, h: number) => {
      const rgba = new Uint8ClampedArray(4 * w * h);
      const density = densityImage(analysis, v, w, h);
      if (nm && invalid) paintNm(density, densityImage(invalid, v, w, h), rgba);
      else paintMask(density, rgba);
      return rgba;
    },
    [analysis, nm, invalid],
  );
  const strips = useMemo(
    () => ({
      rows: (v: View, h: number) => stripDensity(analysis.rowKept, cols, v.y, v.scale, h),
      cols: (v: View, w: number) => stripDensity(analysis.colKept, rows, v.x, v.scale, w),
    }),
    [analysis, rows, cols],
  );
  const entries = rows * cols;
  return (
    <>
      <dl className="facts microscope-facts">
        <dt>Matrix</dt>
        <dd className="mono" data-testid="microscope-shape">
          {tensor} · {rows}×{cols} (out × in)
        </dd>
        <dt>Kept</dt>
        <dd data-testid="microscope-kept" data-density={String(analysis.kept / entries)}>
          {analysis.kept.toLocaleString('en-US')} of {entries.toLocaleString('en-US')} (
          {percent(analysis.kept / entries)}
          ), sparsity {percent(1 - analysis.kept / entries)}
        </dd>
        {nm && (
          <>
            <dt>
              {nm.n}:{nm.m} groups
            </dt>
            <dd
              data-testid="microscope-nm-invalid"
              data-invalid={String(nm.invalid)}
              data-groups={String(nm.groups)}
            >
              {nm.invalid === 0 ? (
                <span className="badge badge-yes">all valid</span>
              ) : (
                <span className="badge badge-no">{nm.invalid.toLocaleString('en-US')} invalid</span>
              )}{' '}
              {nm.invalid.toLocaleString('en-US')} of {nm.groups.toLocaleString('en-US')} groups keep more
              than {nm.n}
            </dd>
          </>
        )}
        <dt>Under the pointer</dt>
        <dd aria-live="off" data-testid="microscope-hover">
          {hover ? describeEntry(analysis.mask, hover, nm) : '—'}
        </dd>
      </dl>
      <MicroscopeCanvas
        rows={rows}
        cols={cols}
        view={view}
        onView={onView}
        paint={paint}
        strips={strips}
        groupWidth={nm?.m}
        onHover={onHover}
        label={`Mask of ${tensor}, ${rows} by ${cols}, ${percent(analysis.kept / entries)} kept${nm ? `; ${nm.invalid} invalid ${nm.n}:${nm.m} groups` : ''}`}
        testId="microscope-canvas"
      />
      <Legend
        items={
          nm
            ? [
                ['kept, valid group', 'var(--pass)'],
                ['kept, invalid group', 'var(--fail)'],
                ['pruned', '#e6f4ea'],
              ]
            : [
                ['kept', '#1f4e79'],
                ['pruned', '#f4f6f9'],
              ]
        }
      />
    </>
  );
}

function describeEntry(mask: Mask, e: { row: number; col: number }, nm: NmCheck | null): string {
  const kept = maskBit(mask, e.row, e.col) === 1;
  let text = `row ${e.row}, column ${e.col}: ${kept ? 'kept' : 'pruned'}`;
  if (nm) {
    const g = Math.floor(e.col / nm.m);
    let inGroup = 0;
    for (let c = g * nm.m; c < Math.min(mask.cols, (g + 1) * nm.m); c++) inGroup += maskBit(mask, e.row, c);
    text += `; group ${g} keeps ${inGroup} of ${nm.m} (${inGroup <= nm.n ? 'valid' : 'invalid'})`;
  }
  return text;
}

/** Paints a mask's kept density, as the view shows it, into a fresh RGBA buffer. */
function useMaskPaint(analysis: MaskAnalysis) {
  return useCallback(
    (v: View, w: number, h: number) => {
      const rgba = new Uint8ClampedArray(4 * w * h);
      paintMask(densityImage(analysis, v, w, h), rgba);
      return rgba;
    },
    [analysis],
  );
}

function CompareView({
  a,
  b,
  diff,
  diffAnalyses,
  labels,
  view,
  onView,
  hover,
  onHover,
  tensor,
}: ViewProps & {
  a: MaskAnalysis;
  b: MaskAnalysis;
  diff: MaskDiff;
  diffAnalyses: { both: MaskAnalysis; onlyA: MaskAnalysis; onlyB: MaskAnalysis };
  labels: [string, string];
}) {
  const { rows, cols } = a.mask;
  const paintA = useMaskPaint(a);
  const paintB = useMaskPaint(b);
  const paintDifference = useCallback(
    (v: View, w: number, h: number) => {
      const rgba = new Uint8ClampedArray(4 * w * h);
      paintDiff(
        densityImage(diffAnalyses.both, v, w, h),
        densityImage(diffAnalyses.onlyA, v, w, h),
        densityImage(diffAnalyses.onlyB, v, w, h),
        rgba,
      );
      return rgba;
    },
    [diffAnalyses],
  );
  const c = diff.counts;
  const entries = rows * cols;
  const hoverText = hover
    ? (() => {
        const x = maskBit(a.mask, hover.row, hover.col);
        const y = maskBit(b.mask, hover.row, hover.col);
        const what = x && y ? 'kept in both' : x ? 'kept in A only' : y ? 'kept in B only' : 'pruned in both';
        return `row ${hover.row}, column ${hover.col}: ${what}`;
      })()
    : '—';
  return (
    <>
      <dl className="facts microscope-facts">
        <dt>Matrix</dt>
        <dd className="mono">
          {tensor} · {rows}×{cols}
        </dd>
        <dt>Overlap of the kept sets</dt>
        <dd>
          Jaccard index |A ∩ B| / |A ∪ B| ={' '}
          <strong data-testid="microscope-jaccard" data-jaccard={String(diff.jaccard)}>
            {diff.jaccard.toFixed(4)}
          </strong>
        </dd>
        <dt>Entries</dt>
        <dd data-testid="microscope-diff-counts">
          kept in both {c.both.toLocaleString('en-US')} ({percent(c.both / entries)}), A only{' '}
          {c.onlyA.toLocaleString('en-US')}, B only {c.onlyB.toLocaleString('en-US')}, neither{' '}
          {c.neither.toLocaleString('en-US')}
        </dd>
        <dt>Under the pointer</dt>
        <dd data-testid="microscope-hover">{hoverText}</dd>
      </dl>
      <div className="compare-grid">
        {(
          [
            [`A: ${labels[0]}`, paintA, 'microscope-canvas-a'],
            [`B: ${labels[1]}`, paintB, 'microscope-canvas-b'],
            ['Difference', paintDifference, 'microscope-canvas-diff'],
          ] as const
        ).map(([title, paint, testId]) => (
          <figure key={testId} className="compare-cell">
            <figcaption className="small">{title}</figcaption>
            <MicroscopeCanvas
              rows={rows}
              cols={cols}
              view={view}
              onView={onView}
              paint={paint}
              onHover={onHover}
              label={`${title}, ${tensor}`}
              testId={testId}
            />
          </figure>
        ))}
      </div>
      <Legend
        items={[
          ['kept in both', '#3b4350'],
          ['A only', '#d9822b'],
          ['B only', '#1f6fb2'],
          ['pruned in both', '#fafafb'],
        ]}
      />
    </>
  );
}

function Legend({ items }: { items: [string, string][] }) {
  return (
    <ul className="legend" aria-label="Colours">
      {items.map(([label, color]) => (
        <li key={label}>
          <span className="swatch" style={{ background: color }} aria-hidden="true" />
          {label}
        </li>
      ))}
    </ul>
  );
}
