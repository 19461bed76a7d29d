// Perplexity per window and the running perplexity over the windows so far, drawn as they arrive.
// The running line settles towards the final number; the per-window dots show how uneven the text
// is, which says how many windows a quick run needs before its number can be trusted.

import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import type { EvalPoint } from '../model/modelReducers';
import { ChartFigure } from '../shell/ChartFigure';
import { countAxis, valueAxis } from '../shell/chartAxes';

export function EvalChart({ points }: { points: readonly EvalPoint[] }) {
  if (points.length === 0) return null;
  return (
    <ChartFigure
      testId="eval-chart"
      caption="Perplexity per window, and over all windows so far"
      exportName="perplexity-per-window"
      rows={points}
    >
      <LineChart
        responsive
        data={points as EvalPoint[]}
        margin={{ top: 8, right: 24, bottom: 4, left: 8 }}
        style={{ width: '100%', height: 280 }}
      >
        <CartesianGrid stroke="var(--grid)" />
        <XAxis {...countAxis('window', 1, 'window')} />
        <YAxis {...valueAxis(formatPpl, { width: 56 })} />
        <Tooltip
          formatter={(value, name) => [formatPpl(Number(value)), name]}
          labelFormatter={(label) => `window ${label}`}
        />
        <Legend verticalAlign="top" height={28} />
        <Line
          type="linear"
          dataKey="windowPpl"
          name="window"
          stroke="var(--muted)"
          strokeOpacity={0.5}
          dot={{ r: 2 }}
          isAnimationActive={false}
        />
        <Line
          type="monotone"
          dataKey="runningPpl"
          name="running"
          stroke="var(--accent)"
          strokeWidth={2}
          dot={false}
          isAnimationActive={false}
        />
      </LineChart>
    </ChartFigure>
  );
}

function formatPpl(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}
