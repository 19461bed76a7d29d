// One metric series of a run record as a line: what a record holds beyond the charts the studio
// draws for pruning, evaluation and training (per-operator sparsity, a series a newer producer added).

import { CartesianGrid, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import type { MetricSeries } from '../../run/record';
import { ChartFigure } from './ChartFigure';
import { AXIS, valueAxis } from './chartAxes';

const formatValue = (v: number) =>
  !Number.isFinite(v)
    ? '—'
    : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)
      ? v.toExponential(2)
      : String(+v.toPrecision(4));

export function MetricChart({ series }: { series: MetricSeries }) {
  if (series.x.length === 0) return null;
  const rows = series.x.map((x, i) => ({ x, [series.name]: series.y[i] ?? null }));
  return (
    <ChartFigure
      testId="record-metric-chart"
      metric={series.name}
      narrow
      caption={
        <>
          {series.name} ({series.x.length} points)
        </>
      }
      exportName={series.name.replaceAll('/', '-')}
      rows={rows}
    >
      <LineChart
        responsive
        data={rows}
        margin={{ top: 8, right: 24, bottom: 4, left: 8 }}
        style={{ width: '100%', height: 220 }}
      >
        <CartesianGrid stroke="var(--grid)" />
        <XAxis dataKey="x" type="number" domain={['dataMin', 'dataMax']} {...AXIS} />
        <YAxis {...valueAxis(formatValue)} />
        <Tooltip formatter={(v) => formatValue(Number(v))} />
        <Line
          type="linear"
          dataKey={series.name}
          stroke="var(--accent)"
          dot={series.x.length <= 50}
          connectNulls
          isAnimationActive={false}
        />
      </LineChart>
    </ChartFigure>
  );
}
