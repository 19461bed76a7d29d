// The optimizer studio's charts, loaded with recharts only once a run reports: training and
// validation loss of every arm on one chart, optimizer-state bytes per arm beside AdamW's formula,
// step time split into the model's and the optimizer's share, tokens per second, Adapprox's error
// per matrix over the steps, and the singular spectrum of one matrix's second moment. The loss and
// state-bytes charts also draw a training run record (RecordView), from the arms it keeps.

import { memo, type ReactNode } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import type { SecondMomentSpectrum } from '../../train/job';
import { ChartFigure } from '../shell/ChartFigure';
import { AXIS, countAxis, valueAxis } from '../shell/chartAxes';
import { formatBytes, formatMs } from '../shell/format';
import { seriesLine } from '../shell/seriesLine';
import {
  type ArmState,
  errorRows,
  type LossCurves,
  lossKey,
  lossRows,
  memoryRows,
  spectrumRows,
  speedRows,
  timeRows,
  truncationRows,
} from './trainChartData';
import type { ArmTrace, RankTrace } from './trainReducer';

const MARGIN = { top: 8, right: 24, bottom: 4, left: 8 };
/** Room on the right for a reference line's label. */
const LABELLED = { ...MARGIN, right: 44 };
const PALETTE = ['#1f6fb2', '#d9822b', '#1a7f37', '#8e44ad', '#c4312b', '#5b6470', '#0f8b8d', '#b8860b'];

/** One colour per arm, by its place in the run, the same in every chart. */
function armColor(arms: readonly { id: string }[], id: string): string {
  const i = arms.findIndex((a) => a.id === id);
  return PALETTE[Math.max(i, 0) % PALETTE.length] as string;
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  return Math.abs(v) >= 1000 || Math.abs(v) < 0.01 ? v.toExponential(2) : v.toPrecision(3);
}

const stepAxis = <XAxis {...countAxis('step', 0, 'step')} />;

/**
 * Horizontal bars, one row per arm (its label on the left), for the per-arm totals: the state
 * bytes and the step time. `head` is the height above the bars (a legend takes some).
 */
function ArmBars({
  rows,
  head,
  labelWidth,
  tick,
  tip,
  children,
}: {
  rows: readonly object[];
  head: number;
  labelWidth: number;
  tick: (v: number) => string;
  tip: (v: number) => string;
  children: ReactNode;
}) {
  return (
    <BarChart
      responsive
      data={rows as object[]}
      margin={MARGIN}
      layout="vertical"
      style={{ width: '100%', height: head + 34 * rows.length }}
    >
      <CartesianGrid stroke="var(--grid)" />
      <XAxis type="number" {...AXIS} tickFormatter={(v) => tick(Number(v))} />
      <YAxis type="category" dataKey="label" {...AXIS} width={labelWidth} />
      <Tooltip formatter={(v) => tip(Number(v))} />
      {children}
    </BarChart>
  );
}

export const LossChart = memo(function LossChart({ arms }: { arms: readonly LossCurves[] }) {
  const rows = lossRows(arms);
  if (rows.length === 0) return null;
  return (
    <ChartFigure
      testId="train-loss-chart"
      caption={
        <>
          Loss per step: training (the batch’s mean next-token loss before the update, solid) and validation
          (held-out windows, dashed with dots)
        </>
      }
      exportName="training-loss"
      rows={rows}
    >
      <LineChart responsive data={rows} margin={MARGIN} style={{ width: '100%', height: 280 }}>
        <CartesianGrid stroke="var(--grid)" />
        {stepAxis}
        <YAxis {...valueAxis(formatValue, { width: 56 })} />
        <Tooltip formatter={(v) => formatValue(Number(v))} labelFormatter={(s) => `step ${s}`} />
        <Legend verticalAlign="top" height={44} />
        {arms.flatMap((a) => [
          seriesLine(lossKey(a.id, 'train'), `${a.label} (train)`, armColor(arms, a.id)),
          <Line
            key={lossKey(a.id, 'val')}
            type="linear"
            dataKey={lossKey(a.id, 'val')}
            name={`${a.label} (validation)`}
            stroke={armColor(arms, a.id)}
            strokeDasharray="5 3"
            strokeWidth={2}
            connectNulls
            isAnimationActive={false}
          />,
        ])}
      </LineChart>
    </ChartFigure>
  );
});

export const MemoryChart = memo(function MemoryChart({
  arms,
  parameters,
}: {
  arms: readonly ArmState[];
  parameters: number;
}) {
  const rows = memoryRows(arms, parameters);
  if (rows.length <= 1) return null;
  return (
    <ChartFigure
      testId="train-memory-chart"
      narrow
      caption={
        <>
          Optimizer state per arm (bytes the ledger holds, at the last step), beside AdamW’s 2·4·P bytes by
          the formula (grey) for P = {parameters.toLocaleString('en-US')} parameters
        </>
      }
      exportName="optimizer-state-bytes"
      rows={rows}
    >
      <ArmBars
        rows={rows}
        head={60}
        labelWidth={210}
        tick={formatBytes}
        tip={(v) => `${v.toLocaleString('en-US')} B`}
      >
        <Bar dataKey="bytes" name="state bytes" isAnimationActive={false}>
          {rows.map((r) => (
            <Cell key={r.id} fill={r.analytical ? '#9aa3ad' : armColor(arms, r.id)} />
          ))}
        </Bar>
      </ArmBars>
    </ChartFigure>
  );
});

export const StepTimeChart = memo(function StepTimeChart({ arms }: { arms: readonly ArmTrace[] }) {
  const rows = timeRows(arms).map((r) => ({
    ...r,
    label: `${r.label} (${(100 * r.share).toFixed(0)}% optimizer)`,
  }));
  if (rows.length === 0) return null;
  return (
    <ChartFigure
      testId="train-time-chart"
      narrow
      caption="Mean time per step: forward and backward of the batch, and the optimizer step (its share in brackets)"
      exportName="step-time"
      rows={rows}
    >
      <ArmBars rows={rows} head={70} labelWidth={250} tick={ms} tip={ms}>
        <Legend verticalAlign="top" height={26} />
        <Bar
          dataKey="modelMs"
          name="model (forward + backward)"
          stackId="t"
          fill="#9fb8d0"
          isAnimationActive={false}
        />
        <Bar
          dataKey="optimizerMs"
          name="optimizer"
          stackId="t"
          fill="var(--accent-strong)"
          isAnimationActive={false}
        />
      </ArmBars>
    </ChartFigure>
  );
});

const ms = (v: number) => `${formatMs(v)} ms`;

export const SpeedChart = memo(function SpeedChart({ arms }: { arms: readonly ArmTrace[] }) {
  const rows = speedRows(arms);
  if (rows.length === 0) return null;
  return (
    <ChartFigure
      testId="train-speed-chart"
      narrow
      caption="Tokens per second per step (the batch’s tokens over its model and optimizer time)"
      exportName="tokens-per-second"
      rows={rows}
    >
      <LineChart responsive data={rows} margin={MARGIN} style={{ width: '100%', height: 220 }}>
        <CartesianGrid stroke="var(--grid)" />
        {stepAxis}
        <YAxis {...AXIS} width={56} tickFormatter={formatValue} />
        <Tooltip formatter={(v) => formatValue(Number(v))} labelFormatter={(s) => `step ${s}`} />
        <Legend verticalAlign="top" height={26} />
        {arms.map((a) => seriesLine(a.id, a.label, armColor(arms, a.id)))}
      </LineChart>
    </ChartFigure>
  );
});

export const ErrorChart = memo(function ErrorChart({
  trace,
  label,
  target,
}: {
  trace: RankTrace;
  label: string;
  target: number;
}) {
  const rows = errorRows(trace);
  if (rows.length === 0) return null;
  return (
    <ChartFigure
      testId="train-error-chart"
      caption={
        <>
          {label}: relative error ξ = ‖V − QUᵀ‖<sub>F</sub>/‖V‖<sub>F</sub> per matrix and step, as the sketch
          estimates it, against ξ<sub>thr</sub> = {target}. It is measured on a V that already holds the
          rank-k history, so it can look small while the drift from the exact running average is larger
          (docs/algorithms/adapprox.md §6): inspect a matrix below for the exact error.
        </>
      }
      exportName={`adapprox-error-${label}`}
      rows={rows}
    >
      <LineChart responsive data={rows} margin={LABELLED} style={{ width: '100%', height: 260 }}>
        <CartesianGrid stroke="var(--grid)" />
        {stepAxis}
        <YAxis {...valueAxis(formatValue, { log: true })} allowDataOverflow />
        <Tooltip formatter={(v) => formatValue(Number(v))} labelFormatter={(s) => `step ${s}`} />
        <ReferenceLine
          y={target}
          stroke="var(--warn)"
          strokeDasharray="5 3"
          label={{ value: 'ξ_thr', position: 'right', fontSize: 12 }}
        />
        {trace.names.map((name, i) => seriesLine(name, name, PALETTE[i % PALETTE.length] as string))}
      </LineChart>
    </ChartFigure>
  );
});

export const SpectrumCharts = memo(function SpectrumCharts({ spectrum }: { spectrum: SecondMomentSpectrum }) {
  const sigma = spectrumRows(spectrum);
  const errors = truncationRows(spectrum);
  return (
    <div className="chart-pair" data-testid="train-spectrum">
      <ChartFigure
        narrow
        caption={
          <>
            Singular values σ<sub>i</sub> of the exact dense V ({spectrum.rows}×{spectrum.cols}) of{' '}
            {spectrum.matrix}, step {spectrum.step} (log scale); the rank chosen is marked
          </>
        }
        exportName={`spectrum-${spectrum.arm}-${spectrum.matrix}-step-${spectrum.step}`}
        rows={sigma}
      >
        <LineChart responsive data={sigma} margin={MARGIN} style={{ width: '100%', height: 240 }}>
          <CartesianGrid stroke="var(--grid)" />
          <XAxis {...countAxis('index', 1)} />
          <YAxis {...valueAxis(formatValue, { log: true })} />
          <Tooltip formatter={(v) => formatValue(Number(v))} labelFormatter={(i) => `σ_${i}`} />
          <ReferenceLine
            x={spectrum.rank}
            stroke="var(--accent-strong)"
            strokeDasharray="4 3"
            label={{ value: `k = ${spectrum.rank}`, position: 'insideTopRight', fontSize: 12 }}
          />
          <Line
            dataKey="sigma"
            name="σ_i"
            stroke="var(--accent)"
            dot={sigma.length <= 64}
            isAnimationActive={false}
          />
        </LineChart>
      </ChartFigure>
      <ChartFigure
        narrow
        caption={
          <>
            Relative error at rank k: the best possible (exact truncation of V) and the sketch’s estimate ξ
            <sub>k</sub>, against the target ξ<sub>thr</sub> = {spectrum.errorTarget}
          </>
        }
        exportName={`truncation-error-${spectrum.arm}-${spectrum.matrix}-step-${spectrum.step}`}
        rows={errors}
      >
        <LineChart responsive data={errors} margin={LABELLED} style={{ width: '100%', height: 240 }}>
          <CartesianGrid stroke="var(--grid)" />
          <XAxis {...countAxis('k', 0, 'k')} />
          <YAxis {...valueAxis(formatValue, { log: true })} allowDataOverflow />
          <Tooltip formatter={(v) => formatValue(Number(v))} labelFormatter={(k) => `k = ${k}`} />
          <Legend verticalAlign="top" height={26} />
          <ReferenceLine
            y={spectrum.errorTarget}
            stroke="var(--warn)"
            strokeDasharray="5 3"
            label={{ value: 'ξ_thr', position: 'right', fontSize: 12 }}
          />
          <ReferenceLine x={spectrum.rank} stroke="var(--accent-strong)" strokeDasharray="4 3" />
          {seriesLine('exact', 'exact truncation (Eckart–Young)', 'var(--accent)')}
          <Line
            dataKey="sketch"
            name="sketch ξ_k"
            stroke="#d9822b"
            strokeDasharray="5 3"
            dot={errors.length <= 40}
            connectNulls
            isAnimationActive={false}
          />
        </LineChart>
      </ChartFigure>
    </div>
  );
});
