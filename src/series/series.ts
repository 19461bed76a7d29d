// A named series of numbers: the one shape results travel in from the engine to the charts, into
// run records and back. The pruning engine emits each λ round's FISTA objective as one; the
// studio's reducer keeps it as it arrives, its charts draw it, and a run record (src/run/record.ts,
// whose MetricSeries is this type) stores it unchanged. It sits below every other part of src/ and
// imports nothing, so the engine and every host can share it.

/**
 * The FISTA solve a series traces: which operator of which block, and which λ round (from 0, as the
 * engine counts them). Readers find a round's series by this field, never by parsing its name.
 */
export interface SeriesRound {
  block: number;
  operator: string;
  round: number;
}

export interface Series {
  name: string;
  /** What x counts ('iteration', 'round', 'window', 'step'); absent where the name says it. */
  xUnit?: string;
  /** What y is measured in ('nats', 'ms', 'bytes'); absent for a plain number. */
  unit?: string;
  /** x values (step, iteration, window); same length as y. */
  x: number[];
  /** null where a value is not known (JSON writes a NaN so too). */
  y: number[];
  /** Set on a series that traces one λ round of FISTAPruner on one operator. */
  round?: SeriesRound;
}

/**
 * At most maxPoints of a series, evenly strided from the first, always keeping the last (so a
 * chart ends where the run ended, and series joined end to end can be offset by the last x). A
 * series already that short is returned as it is.
 */
export function thinSeries<S extends Series>(series: S, maxPoints: number): S {
  if (!Number.isInteger(maxPoints) || maxPoints < 2)
    throw new RangeError(
      `a thinned series keeps its first and last points: maxPoints must be ≥ 2, got ${maxPoints}`,
    );
  if (series.x.length !== series.y.length)
    throw new RangeError(`series "${series.name}" has ${series.x.length} x and ${series.y.length} y values`);
  const n = series.x.length;
  if (n <= maxPoints) return series;
  const stride = Math.ceil((n - 1) / (maxPoints - 1));
  const x: number[] = [];
  const y: number[] = [];
  let last = 0;
  for (let i = 0; i < n; i += stride) {
    x.push(series.x[i] as number);
    y.push(series.y[i] as number);
    last = i;
  }
  if (last !== n - 1) {
    x.push(series.x[n - 1] as number);
    y.push(series.y[n - 1] as number);
  }
  return { ...series, x, y };
}
