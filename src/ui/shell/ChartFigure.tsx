// The frame every chart of the studio sits in: a caption saying what is drawn, the chart, and the
// PNG · SVG · CSV links that export it with the rows it was drawn from.

import type { ReactNode } from 'react';
import { ChartExport } from './ChartExport';

interface ChartFigureProps {
  caption: ReactNode;
  /** The name the exported files take. */
  exportName: string;
  rows: readonly object[];
  /** Half-width, for a chart that sits beside another. */
  narrow?: boolean;
  testId?: string;
  /** The metric a record's chart draws, for tests to find it by. */
  metric?: string;
  children: ReactNode;
}

export function ChartFigure({
  caption,
  exportName,
  rows,
  narrow,
  testId,
  metric,
  children,
}: ChartFigureProps) {
  return (
    <figure className="chart" data-testid={testId} data-metric={metric}>
      <figcaption>{caption}</figcaption>
      <div className={narrow ? 'chart-body chart-body-narrow' : 'chart-body'}>{children}</div>
      <ChartExport name={exportName} rows={rows} />
    </figure>
  );
}
