// One series of a line chart as the studio draws most of them: no dots, gaps bridged (an arm or a
// round that skipped a step), drawn at once (the charts redraw as a run reports, and animating each
// update would make them crawl). A function, not a component, because recharts reads its chart's
// children as Line elements themselves.

import { Line } from 'recharts';

export function seriesLine(dataKey: string, name: string, stroke: string) {
  return (
    <Line
      key={dataKey}
      type="linear"
      dataKey={dataKey}
      name={name}
      stroke={stroke}
      dot={false}
      connectNulls
      isAnimationActive={false}
    />
  );
}
