// Adapprox's rank per matrix over the steps (docs/algorithms/adapprox.md §4: "per-matrix rank k_t over time, a heat map
// layer × step"): one row per factored matrix, one column per step, darker for a higher rank. One
// pixel per cell on a canvas the browser scales up without smoothing, so a run of thousands of
// steps costs one small image, not thousands of DOM nodes.

import { memo, useEffect, useMemo, useRef } from 'react';
import { thinIndices } from './trainChartData';
import type { RankTrace } from './trainReducer';

const ROW_PX = 14;
/** Columns drawn at most; longer runs are thinned to an even stride. */
const MAX_COLUMNS = 1200;

/** Light to dark blue: t = 0 is the lowest rank in the run, 1 the highest. */
function rankColor(t: number): [number, number, number] {
  const from = [232, 240, 248];
  const to = [31, 78, 121];
  return from.map((f, i) => Math.round(f + ((to[i] as number) - f) * Math.min(1, Math.max(0, t)))) as [
    number,
    number,
    number,
  ];
}

export const RankHeatmap = memo(function RankHeatmap({ trace, label }: { trace: RankTrace; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const columns = useMemo(() => thinIndices(trace.steps.length, MAX_COLUMNS), [trace.steps.length]);
  const [lo, hi] = useMemo(() => {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const row of trace.rank)
      for (const k of row)
        if (Number.isFinite(k)) {
          min = Math.min(min, k);
          max = Math.max(max, k);
        }
    return Number.isFinite(min) ? [min, max] : [0, 0];
  }, [trace.rank]);

  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx || columns.length === 0) return;
    const rows = trace.names.length;
    c.width = columns.length;
    c.height = rows;
    const image = ctx.createImageData(columns.length, rows);
    columns.forEach((s, x) => {
      for (let y = 0; y < rows; y++) {
        const k = trace.rank[s]?.[y] ?? Number.NaN;
        const [r, g, b] = Number.isFinite(k)
          ? rankColor(hi > lo ? (k - lo) / (hi - lo) : 1)
          : [255, 255, 255];
        const at = 4 * (y * columns.length + x);
        image.data.set([r, g, b, 255], at);
      }
    });
    ctx.putImageData(image, 0, 0);
    c.dataset.painted = 'true';
  }, [trace, columns, lo, hi]);

  if (trace.steps.length === 0) return null;
  const first = trace.steps[0];
  const last = trace.steps[trace.steps.length - 1];
  return (
    <figure className="chart rank-heatmap" data-testid="train-rank-heatmap">
      <figcaption>
        {label}: rank k chosen per matrix (rows) and step (columns),{' '}
        {lo === hi ? `all at ${lo}` : `from ${lo} (light) to ${hi} (dark)`}
      </figcaption>
      <div className="rank-grid" style={{ gridTemplateRows: `repeat(${trace.names.length}, ${ROW_PX}px)` }}>
        <ol className="rank-names" style={{ gridRow: `1 / span ${trace.names.length}` }}>
          {trace.names.map((n) => (
            <li key={n} style={{ height: ROW_PX }}>
              {n}
            </li>
          ))}
        </ol>
        <canvas
          ref={canvas}
          className="rank-canvas"
          style={{ height: ROW_PX * trace.names.length, gridRow: `1 / span ${trace.names.length}` }}
          role="img"
          aria-label={`${label}: ranks from ${lo} to ${hi} over steps ${first} to ${last}`}
          data-testid="train-rank-canvas"
        />
      </div>
      <p className="muted small rank-axis">
        <span>step {first}</span>
        <span>step {last}</span>
      </p>
    </figure>
  );
});
