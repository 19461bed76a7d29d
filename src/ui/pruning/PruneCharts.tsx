// The pruning run's charts, loaded with recharts only once there is something to draw: the FISTA
// objective of the operator being solved (one line per λ round), the λ search (λ with its bisection
// bracket, and E_round/E_total against ξ, the ratio that moves it), the reconstruction error per
// operator and per block, perplexity before and after, and sparsity against perplexity across runs.

import { memo } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  ComposedChart,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
  ZAxis,
} from 'recharts';
import type { MatrixSummary } from '../../prune/events';
import type { FistaTrace } from '../../prune/fistaTrace';
import type { PruneMethod } from '../../prune/options';
import type { PruneRun } from '../../worker/api';
import { ChartFigure } from '../shell/ChartFigure';
import { AXIS, countAxis, valueAxis } from '../shell/chartAxes';
import { formatError } from '../shell/format';
import { seriesLine } from '../shell/seriesLine';
import { blockErrors, objectiveRows, type PruneJobState } from './pruneReducer';
import { describePattern, METHOD_LABELS } from './pruneSettings';

const ROUND_COLORS = ['#1f6fb2', '#d9822b', '#1a7f37', '#8e44ad', '#c4312b', '#5b6470'];
const METHOD_COLORS: Record<PruneMethod, string> = {
  fista: '#1f6fb2',
  sparsegpt: '#1a7f37',
  wanda: '#d9822b',
  magnitude: '#8e44ad',
};
const MARGIN = { top: 8, right: 24, bottom: 4, left: 8 };

/** Perplexities, objectives, λ: three significant digits, exponents outside 0.01–1000, and a plain 0. */
function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  return Math.abs(v) >= 1000 || Math.abs(v) < 0.01 ? v.toExponential(2) : v.toPrecision(3);
}

/** Each λ round's objective series as the engine sent it (thinned there), one line per round. */
/**
 * A pruning run's charts while it runs and after (the pruning panel and a paper demo show the same):
 * perplexity before and after, so far or final, the operator being solved, and the error per matrix.
 */
export const PruneJobCharts = memo(function PruneJobCharts({ job, xi }: { job: PruneJobState; xi: number }) {
  const before = job.before?.ppl ?? job.before?.runningPpl ?? null;
  const after = job.after?.ppl ?? job.after?.runningPpl ?? null;
  return (
    <>
      {(before !== null || after !== null) && <PerplexityChart before={before} after={after} />}
      {job.fista && <ObjectiveChart trace={job.fista} />}
      {job.fista && <LambdaCharts trace={job.fista} xi={xi} />}
      <ErrorCharts matrices={job.matrices} />
    </>
  );
});

export function ObjectiveChart({ trace }: { trace: FistaTrace }) {
  const rows = objectiveRows(trace.objectives);
  if (rows.length === 0) return null;
  // A log axis needs positive values; F is ½‖·‖² + λ‖·‖₁, so it is unless the fit is exact.
  const positive = rows.every((r) => Object.entries(r).every(([k, v]) => k === 'iteration' || v > 0));
  return (
    <ChartFigure
      testId="prune-objective-chart"
      caption={
        <>
          FISTA objective F(W<sub>k</sub>) = ½‖W<sub>k</sub>X* − WX‖² + λ‖W<sub>k</sub>‖₁ of block{' '}
          {trace.block}, {trace.operator}, per iteration: one line per λ round
        </>
      }
      exportName={`fista-objective-block-${trace.block}-${trace.operator}`}
      rows={rows}
    >
      <LineChart responsive data={rows} margin={MARGIN} style={{ width: '100%', height: 240 }}>
        <CartesianGrid stroke="var(--grid)" />
        <XAxis {...countAxis('iteration', 0, 'iteration k')} />
        <YAxis {...valueAxis(formatValue, { log: positive })} />
        <Tooltip formatter={(v) => formatValue(Number(v))} labelFormatter={(k) => `iteration ${k}`} />
        <Legend verticalAlign="top" height={26} />
        {trace.objectives.map((series, i) => {
          const r = series.round?.round ?? i;
          return seriesLine(`r${r}`, `round ${r + 1}`, ROUND_COLORS[r % ROUND_COLORS.length] as string);
        })}
      </LineChart>
    </ChartFigure>
  );
}

export function LambdaCharts({ trace, xi }: { trace: FistaTrace; xi: number }) {
  if (trace.rounds.length === 0) return null;
  const data = trace.rounds.map((r) => ({
    round: r.round + 1,
    lambda: r.lambda,
    lo: r.lo,
    hi: r.hi,
    ratio: r.errorTotal > 0 ? r.errorRound / r.errorTotal : 0,
    best: r.best,
    sparsity: r.sparsityBeforeThreshold,
  }));
  return (
    <div className="chart-pair" data-testid="prune-lambda-charts">
      <ChartFigure
        narrow
        caption={
          <>
            λ search of block {trace.block}, {trace.operator}: λ per round and its bisection bracket [lo, hi]
            (hi missing while no upper bound is known)
          </>
        }
        exportName={`lambda-search-block-${trace.block}-${trace.operator}`}
        rows={data}
      >
        <ComposedChart responsive data={data} margin={MARGIN} style={{ width: '100%', height: 220 }}>
          <CartesianGrid stroke="var(--grid)" />
          <XAxis dataKey="round" allowDecimals={false} {...AXIS} />
          <YAxis {...AXIS} width={64} tickFormatter={formatValue} />
          <Tooltip formatter={(v) => formatValue(Number(v))} labelFormatter={(r) => `round ${r}`} />
          <Legend verticalAlign="top" height={26} />
          <Line dataKey="lambda" name="λ" stroke="var(--accent)" strokeWidth={2} isAnimationActive={false} />
          <Line
            dataKey="lo"
            name="lo"
            stroke="var(--muted)"
            strokeDasharray="4 3"
            dot={false}
            isAnimationActive={false}
          />
          <Line
            dataKey="hi"
            name="hi"
            stroke="var(--fail)"
            strokeDasharray="4 3"
            dot={false}
            connectNulls={false}
            isAnimationActive={false}
          />
        </ComposedChart>
      </ChartFigure>
      <ChartFigure
        narrow
        caption={
          <>
            E<sub>round</sub>/E<sub>total</sub> per round against ξ = {xi}: above it λ rises, below it λ falls
            (the best round is dark)
          </>
        }
        exportName={`error-ratio-block-${trace.block}-${trace.operator}`}
        rows={data}
      >
        <BarChart responsive data={data} margin={MARGIN} style={{ width: '100%', height: 220 }}>
          <CartesianGrid stroke="var(--grid)" />
          <XAxis dataKey="round" allowDecimals={false} {...AXIS} />
          <YAxis
            {...AXIS}
            width={48}
            domain={[0, (max: number) => Math.max(max, xi * 1.2)]}
            tickFormatter={formatValue}
          />
          <Tooltip formatter={(v) => formatValue(Number(v))} labelFormatter={(r) => `round ${r}`} />
          <ReferenceLine
            y={xi}
            stroke="var(--warn)"
            strokeDasharray="5 3"
            label={{ value: 'ξ', position: 'right', fontSize: 12 }}
          />
          <Bar dataKey="ratio" name="E_round / E_total" isAnimationActive={false}>
            {data.map((d) => (
              <Cell key={d.round} fill={d.best ? 'var(--accent-strong)' : '#9fb8d0'} />
            ))}
          </Bar>
        </BarChart>
      </ChartFigure>
    </div>
  );
}

export function ErrorCharts({ matrices }: { matrices: readonly MatrixSummary[] }) {
  if (matrices.length === 0) return null;
  const ops = matrices.map((m) => ({
    label: `${m.block}.${m.operator}`,
    block: m.block,
    relativeError: m.relativeError,
  }));
  const blocks = blockErrors(matrices).map((b) => ({ ...b, label: `block ${b.block}` }));
  const positive = matrices.every((m) => m.relativeError > 0);
  return (
    <div className="chart-pair" data-testid="prune-error-charts">
      <ChartFigure
        narrow
        caption="Relative reconstruction error ‖ŴX* − WX‖² / ‖WX‖² per operator (block.operator)"
        exportName="relative-error-per-operator"
        rows={ops}
      >
        <BarChart responsive data={ops} margin={MARGIN} style={{ width: '100%', height: 240 }}>
          <CartesianGrid stroke="var(--grid)" vertical={false} />
          <XAxis dataKey="label" stroke="var(--muted)" fontSize={11} interval="preserveStartEnd" />
          <YAxis {...valueAxis(formatError, { log: positive })} />
          <Tooltip formatter={(v) => formatError(Number(v))} />
          <Bar dataKey="relativeError" name="relative error" isAnimationActive={false}>
            {ops.map((o) => (
              <Cell key={o.label} fill={o.block % 2 === 0 ? 'var(--accent)' : '#6ea3cf'} />
            ))}
          </Bar>
        </BarChart>
      </ChartFigure>
      <ChartFigure
        narrow
        caption="Per block: the operators' errors over their dense energies, summed"
        exportName="relative-error-per-block"
        rows={blocks}
      >
        <BarChart responsive data={blocks} margin={MARGIN} style={{ width: '100%', height: 240 }}>
          <CartesianGrid stroke="var(--grid)" vertical={false} />
          <XAxis dataKey="label" {...AXIS} />
          <YAxis {...AXIS} width={64} tickFormatter={formatError} />
          <Tooltip formatter={(v) => formatError(Number(v))} />
          <Bar
            dataKey="relativeError"
            name="relative error"
            fill="var(--accent-strong)"
            isAnimationActive={false}
          />
        </BarChart>
      </ChartFigure>
    </div>
  );
}

export function PerplexityChart({ before, after }: { before: number | null; after: number | null }) {
  const data = [
    { label: 'dense', ppl: before },
    { label: 'pruned', ppl: after },
  ].filter((d): d is { label: string; ppl: number } => d.ppl !== null && Number.isFinite(d.ppl));
  if (data.length === 0) return null;
  return (
    <ChartFigure
      testId="prune-ppl-chart"
      narrow
      caption="Perplexity before and after (running value while a pass is under way)"
      exportName="perplexity-before-after"
      rows={data}
    >
      <BarChart
        responsive
        layout="vertical"
        data={data}
        margin={MARGIN}
        style={{ width: '100%', height: 110 }}
      >
        <CartesianGrid stroke="var(--grid)" horizontal={false} />
        <XAxis type="number" {...AXIS} tickFormatter={formatValue} />
        <YAxis type="category" dataKey="label" {...AXIS} width={64} />
        <Tooltip formatter={(v) => formatValue(Number(v))} cursor={{ fill: 'var(--hover)' }} />
        <Bar dataKey="ppl" name="perplexity" barSize={18} isAnimationActive={false}>
          {data.map((d) => (
            <Cell key={d.label} fill={d.label === 'dense' ? 'var(--muted)' : 'var(--accent)'} />
          ))}
        </Bar>
      </BarChart>
    </ChartFigure>
  );
}

/** Runs measured on the same text and windows as `reference`, as points of sparsity against perplexity after. */
export function SparsityScatter({ runs, reference }: { runs: readonly PruneRun[]; reference: PruneRun }) {
  const same = runs.filter(
    (r) =>
      r.pplAfter !== null &&
      r.evalText === reference.evalText &&
      r.seqLen === reference.seqLen &&
      r.windows === reference.windows,
  );
  if (same.length === 0 || reference.pplBefore === null) return null;
  const methods = [...new Set(same.map((r) => r.summary.method))];
  // A log axis with room around the dense model and the worst run.
  const values = [reference.pplBefore, ...same.map((r) => r.pplAfter as number)].filter((v) => v > 0);
  const domain: [number, number] = [Math.min(...values) / 1.5, Math.max(...values) * 1.5];
  const point = (r: PruneRun) => ({
    sparsity: 100 * r.summary.sparsity,
    ppl: r.pplAfter as number,
    name: `${METHOD_LABELS[r.summary.method]} ${describePattern(r.summary.options.pattern)}`,
  });
  return (
    <ChartFigure
      testId="prune-scatter"
      caption={
        <>
          Sparsity against perplexity after, every run on{' '}
          {reference.evalText === 'wikitext2' ? 'WikiText-2' : 'TinyStories'} ({reference.windows} windows of{' '}
          {reference.seqLen} tokens); the dense model at 0%
        </>
      }
      exportName="sparsity-against-perplexity"
      rows={[{ name: 'dense', sparsity: 0, ppl: reference.pplBefore }, ...same.map(point)]}
    >
      <ScatterChart responsive margin={MARGIN} style={{ width: '100%', height: 260 }}>
        <CartesianGrid stroke="var(--grid)" />
        <XAxis type="number" dataKey="sparsity" name="sparsity" unit="%" domain={[0, 100]} {...AXIS} />
        <YAxis
          type="number"
          dataKey="ppl"
          name="perplexity"
          scale="log"
          domain={domain}
          allowDataOverflow
          {...AXIS}
          width={64}
          tickFormatter={formatValue}
        />
        <ZAxis range={[60, 60]} />
        <Tooltip
          cursor={{ strokeDasharray: '3 3' }}
          formatter={(v, name) => [
            name === 'sparsity' ? `${Number(v).toFixed(2)}%` : formatValue(Number(v)),
            name,
          ]}
        />
        <Legend verticalAlign="top" height={26} />
        <Scatter
          name="dense"
          data={[{ sparsity: 0, ppl: reference.pplBefore, name: 'dense' }]}
          fill="var(--muted)"
          isAnimationActive={false}
        />
        {methods.map((m) => (
          <Scatter
            key={m}
            name={METHOD_LABELS[m]}
            data={same.filter((r) => r.summary.method === m).map(point)}
            fill={METHOD_COLORS[m]}
            isAnimationActive={false}
          />
        ))}
      </ScatterChart>
    </ChartFigure>
  );
}
