// The axes the studio's charts share, as props to spread on recharts' XAxis and YAxis: recharts
// finds its axes by their element type, so a shared axis cannot be a component of ours.

/** The look of every axis. */
export const AXIS = { stroke: 'var(--muted)', fontSize: 12 } as const;

/** An x axis that counts from `from` (windows, iterations, steps, ranks): whole numbers, named in its corner. */
export function countAxis(dataKey: string, from: number, label?: string) {
  return {
    dataKey,
    type: 'number' as const,
    domain: [from, 'dataMax'] as [number, 'dataMax'],
    allowDecimals: false,
    ...AXIS,
    ...(label && {
      label: { value: label, position: 'insideBottomRight' as const, offset: -2, fontSize: 12 },
    }),
  };
}

/** A y axis of measured values fitted to the data, on a log scale where asked. */
export function valueAxis(format: (v: number) => string, { log = false, width = 64 } = {}) {
  return {
    scale: log ? ('log' as const) : ('auto' as const),
    domain: ['auto', 'auto'] as ['auto', 'auto'],
    ...AXIS,
    width,
    tickFormatter: format,
  };
}
