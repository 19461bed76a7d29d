// Achieved GFLOP/s per case, as horizontal bars so the long case names stay readable. Cases that do
// no arithmetic (transpose) are left out rather than drawn as empty bars; their GB/s is in the table.

import { Bar, BarChart, CartesianGrid, Cell, Tooltip, XAxis, YAxis } from 'recharts';
import type { KernelCaseResult } from '../../kernels/suiteCase';
import { ChartFigure } from '../shell/ChartFigure';
import { AXIS } from '../shell/chartAxes';
import { formatRate, formatTick } from '../shell/format';

const ROW_HEIGHT = 26;

export function KernelChart({ results }: { results: readonly KernelCaseResult[] }) {
  const data = results
    .filter((r) => r.flops > 0)
    .map((r) => ({
      label: `${r.name} · ${r.shape}`,
      gflops: Number.isFinite(r.gflops) ? r.gflops : 0,
      passed: r.passed,
    }));
  if (data.length === 0) return null;
  return (
    <ChartFigure
      testId="kernel-check-chart"
      caption="Achieved GFLOP/s per case (median of the timed runs)"
      exportName="kernel-check-gflops"
      rows={data}
    >
      <BarChart
        responsive
        layout="vertical"
        data={data}
        margin={{ top: 4, right: 24, bottom: 4, left: 8 }}
        style={{ width: '100%', height: 48 + ROW_HEIGHT * data.length }}
      >
        <CartesianGrid horizontal={false} stroke="var(--grid)" />
        <XAxis type="number" tickFormatter={formatTick} {...AXIS} />
        <YAxis type="category" dataKey="label" width={260} {...AXIS} interval={0} />
        <Tooltip
          formatter={(value) => [formatRate(Number(value)), 'GFLOP/s']}
          cursor={{ fill: 'var(--hover)' }}
        />
        <Bar dataKey="gflops" isAnimationActive={false} barSize={16}>
          {data.map((d) => (
            <Cell key={d.label} fill={d.passed ? 'var(--accent)' : 'var(--fail)'} />
          ))}
        </Bar>
      </BarChart>
    </ChartFigure>
  );
}
