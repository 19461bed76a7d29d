// The PNG · SVG · CSV links under a chart. Put it inside the chart's <figure>: it finds the chart
// from there, so a chart component only passes its data rows and a file name.

import { useRef, useState } from 'react';
import './sharing.css';
import { safeName } from '../pruning/pruneExport';
import { chartCsv, chartSvg, svgToPng } from './chartFiles';
import { downloadBytes } from './download';

export function ChartExport({ name, rows }: { name: string; rows: readonly object[] }) {
  const self = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const file = safeName(name);

  const run = async (format: 'png' | 'svg' | 'csv') => {
    setError(null);
    try {
      if (format === 'csv') {
        downloadBytes(`${file}.csv`, chartCsv(rows), 'text/csv');
        return;
      }
      const figure = self.current?.closest('figure');
      if (!figure) throw new Error('ChartExport must be placed inside the chart’s <figure>.');
      const { svg, width, height } = chartSvg(figure);
      if (format === 'svg') downloadBytes(`${file}.svg`, svg, 'image/svg+xml');
      else downloadBytes(`${file}.png`, await svgToPng(svg, width, height), 'image/png');
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <div className="chart-export" ref={self}>
      <span className="muted small">Download</span>
      {(['png', 'svg', 'csv'] as const).map((format) => (
        <button
          key={format}
          type="button"
          className="link-button small"
          data-testid={`chart-export-${format}`}
          title={
            format === 'csv'
              ? 'The chart’s data, one row per point'
              : `The chart as ${format === 'png' ? 'a PNG image (2× size)' : 'an SVG drawing'}`
          }
          onClick={() => void run(format)}
        >
          {format.toUpperCase()}
        </button>
      ))}
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
