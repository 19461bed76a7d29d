// Decode speed against sparsity across the models of the last playground job (recharts is loaded
// only when a job has finished a model).

import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from 'recharts';
import { ChartFigure } from '../shell/ChartFigure';
import { AXIS } from '../shell/chartAxes';

export interface SpeedPoint {
  label: string;
  sparsity: number;
  decodeTokensPerSecond: number;
}

export function DecodeSpeedChart({ points }: { points: SpeedPoint[] }) {
  const data = points.map((p) => ({ ...p, name: `${p.label} (${(100 * p.sparsity).toFixed(0)}%)` }));
  return (
    <ChartFigure
      testId="playground-speed-chart"
      caption="Decode tokens per second by model, its sparsity in brackets (the same GPU, one after another)"
      exportName="decode-tokens-per-second"
      rows={data}
    >
      <BarChart
        responsive
        data={data}
        margin={{ top: 8, right: 16, bottom: 8, left: 8 }}
        style={{ width: '100%', height: 220 }}
      >
        <CartesianGrid stroke="var(--grid)" />
        <XAxis dataKey="name" {...AXIS} />
        <YAxis {...AXIS} width={56} />
        <Tooltip formatter={(v) => [`${Number(v).toFixed(2)} tokens/s`, 'decode']} />
        <Bar dataKey="decodeTokensPerSecond" name="decode" fill="var(--accent)" />
      </BarChart>
    </ChartFigure>
  );
}
