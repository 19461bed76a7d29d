// The plain-text table `npm run bench` prints, and the notes that say how to read it.

import type { BenchRow } from './row';

interface Column {
  head: string;
  align: 'left' | 'right';
  cell(row: BenchRow): string;
}

const dash = '–';

/**
 * A header, a rule and the lines, each column as wide as its widest cell: left-aligned where
 * `left(i)` says so, else right-aligned. A line of another length (a failed row's message) is
 * joined as it is and does not widen the columns.
 */
export function alignedRows(
  header: string[],
  lines: string[][],
  left: (column: number) => boolean,
): string[] {
  const full = lines.filter((l) => l.length === header.length);
  const widths = header.map((h, i) => Math.max(h.length, ...full.map((l) => (l[i] as string).length)));
  const row = (cells: string[]) =>
    cells.length === header.length
      ? cells
          .map((c, i) => (left(i) ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
          .join('  ')
          .trimEnd()
      : cells.join('  ');
  return [row(header), row(widths.map((w) => '-'.repeat(w))), ...lines.map(row)];
}

/** A number with about three significant digits, never in exponent form above 0.001. */
export function num(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return dash;
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 10 ** digits) return Math.round(x).toString();
  if (abs < 1e-3) return x.toExponential(1);
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(abs)));
  return x.toFixed(decimals);
}

export const pct = (x: number | null): string =>
  x === null || Number.isNaN(x) ? dash : `${(100 * x).toFixed(0)}%`;

const COLUMNS: Column[] = [
  { head: 'group', align: 'left', cell: (r) => r.group },
  { head: 'case', align: 'left', cell: (r) => r.name },
  { head: 'layout', align: 'left', cell: (r) => r.layout },
  { head: 'm×n×k', align: 'left', cell: (r) => (r.kind === 'copy' ? dash : r.shape) },
  { head: 'GFLOP', align: 'right', cell: (r) => (r.kind === 'copy' ? dash : num(r.flops / 1e9)) },
  { head: 'MB', align: 'right', cell: (r) => num(r.bytes / 1e6) },
  { head: 'runs', align: 'right', cell: (r) => String(r.runs) },
  { head: 'median ms', align: 'right', cell: (r) => num(r.medianMs, 4) },
  { head: 'GFLOP/s', align: 'right', cell: (r) => (r.kind === 'copy' ? dash : num(r.gflops)) },
  { head: 'GB/s', align: 'right', cell: (r) => num(r.gbps) },
  { head: 'GPU ms', align: 'right', cell: (r) => (r.gpuMs === null ? dash : num(r.gpuMs, 4)) },
  { head: 'GPU GFLOP/s', align: 'right', cell: (r) => (r.gpuGflops === null ? dash : num(r.gpuGflops)) },
  { head: '%mm', align: 'right', cell: (r) => pct(r.fracPeakMatmul) },
  { head: '%copy', align: 'right', cell: (r) => pct(r.fracPeakCopy) },
  { head: 'JS GFLOP/s', align: 'right', cell: (r) => num(r.js?.gflops) },
  {
    head: 'JS rows',
    align: 'right',
    cell: (r) => (r.js ? (r.js.rows === r.js.totalRows ? 'all' : `${r.js.rows}/${r.js.totalRows}`) : dash),
  },
  { head: 'GPU/JS', align: 'right', cell: (r) => (r.vsJs === null ? dash : `${num(r.vsJs, 2)}×`) },
  {
    head: 'err',
    align: 'right',
    cell: (r) => (r.maxRelError === null ? dash : r.maxRelError.toExponential(1)),
  },
];

export function formatTable(rows: readonly BenchRow[]): string {
  const cells = rows.map((row) =>
    row.error
      ? [row.group, row.name, `FAILED: ${row.error.split('\n')[0]}`]
      : COLUMNS.map((c) => c.cell(row)),
  );
  const widths = COLUMNS.map((c, i) =>
    Math.max(
      c.head.length,
      ...cells.filter((r) => r.length === COLUMNS.length).map((r) => (r[i] as string).length),
    ),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => {
        const col = COLUMNS[i];
        if (!col || values.length !== COLUMNS.length) return v;
        return col.align === 'left' ? v.padEnd(widths[i] as number) : v.padStart(widths[i] as number);
      })
      .join('  ')
      .trimEnd();
  const header = line(COLUMNS.map((c) => c.head));
  return [header, '-'.repeat(header.length), ...cells.map(line)].join('\n');
}

export interface Peaks {
  matmulGflops: number;
  matmulCase: string;
  copyGbps: number;
}

export function formatNotes(rows: readonly BenchRow[], peaks: Peaks, otherCpu: number): string {
  const disturbed = rows.filter((r) => r.otherCpu > 0.1).map((r) => `${r.name} ${pct(r.otherCpu)}`);
  const notes = [
    `Other processes used ${pct(otherCpu)} of the machine's CPU capacity during the run` +
      (disturbed.length > 0 ? `; over 10% during: ${disturbed.join(', ')}. Those rows are skewed.` : '.'),
    `Peak of this run: matmul ${num(peaks.matmulGflops)} GFLOP/s (${peaks.matmulCase}, the best plain matmul row), ` +
      `copy ${num(peaks.copyGbps)} GB/s (copyBufferToBuffer; bytes = read + write). %mm and %copy are fractions of these.`,
    'Time: submit → await rt.sync(), median of the runs after one untimed warm-up run. ' +
      'MB / GB/s: the fewest bytes moved (each input read once, each output written once). ' +
      'GPU ms: one more run on the GPU clock (timestamp queries around each compute pass), the kernels ' +
      'without the host and the round trip; GPU GFLOP/s counts the same FLOPs over it.',
    'JS: a single-threaded ikj triple loop on Float32Array (transposed operands packed row-major before timing). ' +
      '"JS rows a/b": it computed only the first a of b result rows, and its GFLOP/s counts the FLOPs of that slice. ' +
      'err: max |gpu − js| / max |js| on those rows.',
  ];
  for (const r of rows.filter((row) => row.kind === 'gram' && !row.error)) {
    notes.push(
      `Gram ${r.name}: GFLOP counts the delivered product 2·rows·width²; the symmetric kernel executes ` +
        `${pct(r.executedFlops / r.flops)} of that (tiles on and above the diagonal), i.e. ` +
        `${num(r.executedFlops / r.medianMs / 1e6)} executed GFLOP/s. Its JS baseline computes full rows of XᵀX.`,
    );
  }
  return notes.map((n) => `* ${n}`).join('\n');
}
