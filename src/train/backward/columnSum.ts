// Deterministic column sums over the rows (tokens) of a matrix: the gradient of a bias, and the
// second pass of a norm's gain gradient. Floating-point atomics would make every training run
// differ in the last bits; instead the rows are summed in chunks of about √rows by one invocation
// per (chunk, column), then the chunk sums are summed the same way (see columnSum.wgsl), so the
// order of every addition is fixed and the longest chain is about 2√rows additions.
//
// The matrix is bound in windows of whole chunks (and of columns), so it may be larger than one
// storage binding; the chunk sums go to a scratch buffer of ceil(rows / chunk) rows.

import shader from '../../../shaders/train/backward/columnSum.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import { defineKernel } from '../../kernels/kernel';
import { checkDistinct, checkInteger, checkMatrix } from '../../kernels/operands';
import { foldGrid } from '../../kernels/params';
import { bindWindow, planBlocks, span, windowLimits } from '../../kernels/window';

const columnSumKernel = defineKernel({
  name: 'columnSum',
  code: shader,
  uniforms: {
    rows: 'u32',
    cols: 'u32',
    ld_x: 'u32',
    ld_out: 'u32',
    off_x: 'u32',
    off_out: 'u32',
    chunk: 'u32',
    chunks: 'u32',
    col_groups: 'u32',
  },
});

export interface ColumnSumArgs {
  /** rows × cols, rows ld apart. */
  x: GPUBuffer;
  rows: number;
  cols: number;
  ld?: number;
  offset?: number;
  /** cols elements: the sums. */
  out: GPUBuffer;
  offsetOut?: number;
  /** out += the sums (gradient accumulation) instead of out = the sums. */
  accumulate?: boolean;
}

/** Rows one invocation sums serially: all of them up to 64, then about √rows. */
export function sumChunk(rows: number): number {
  return rows <= 64 ? Math.max(rows, 1) : Math.ceil(Math.sqrt(rows));
}

/** The longest chain of f32 additions in a column sum of `rows` rows (the two passes, plus accumulating). */
export function columnSumDepth(rows: number): number {
  const chunk = sumChunk(rows);
  const chunks = Math.ceil(rows / chunk);
  return chunk + (chunks > 1 ? sumChunk(chunks) : 0) + 1;
}

export async function columnSum(rt: GpuRuntime, args: ColumnSumArgs): Promise<void> {
  const { rows, cols } = args;
  const kernel = 'columnSum';
  const ld = args.ld ?? cols;
  const offset = args.offset ?? 0;
  const offOut = args.offsetOut ?? 0;
  checkInteger(kernel, 'rows', rows);
  checkInteger(kernel, 'cols', cols);
  checkMatrix(kernel, 'x', args.x, rows, cols, ld, offset);
  checkMatrix(kernel, 'out', args.out, 1, cols, cols, offOut);
  checkDistinct(kernel, ['out', args.out], ['x', args.x]);
  if (cols === 0) return;
  if (rows === 0) {
    if (!args.accumulate) rt.write(args.out, new Float32Array(cols), offOut * 4);
    return;
  }
  const scratch = [];
  try {
    let src = { buffer: args.x, rows, ld, offset };
    for (;;) {
      const level = planLevel(rt, src.rows, cols, src.ld);
      const final = level.chunks === 1;
      let dst = { buffer: args.out, ld: cols, offset: offOut };
      if (!final) {
        const partials = await rt.createBuffer('column sum partials', 'scratch', level.chunks * cols * 4);
        scratch.push(partials);
        dst = { buffer: partials.buffer, ld: cols, offset: 0 };
      }
      rt.submit(await levelDispatches(rt, src, cols, dst, level, final && (args.accumulate ?? false)));
      if (final) return;
      src = { buffer: dst.buffer, rows: level.chunks, ld: cols, offset: 0 };
    }
  } finally {
    // Deferred by the ledger until the recorded work is submitted.
    for (const s of scratch) s.destroy();
  }
}

interface Level {
  /** Rows per chunk, and chunks over all rows. */
  chunk: number;
  chunks: number;
  /** Rows and columns per window; windowRows is a multiple of chunk unless it is all the rows. */
  windowRows: number;
  windowCols: number;
}

function planLevel(rt: GpuRuntime, rows: number, cols: number, ld: number): Level {
  const { capacity, maxGroups } = windowLimits(rt.limits);
  let chunk = sumChunk(rows);
  const block = planBlocks<'r' | 'c'>(
    { r: rows, c: cols },
    [
      { measure: (b) => span(b.r, b.c, ld), limit: capacity, shrink: ['r', 'c'] },
      { measure: (b) => span(Math.ceil(b.r / chunk), b.c, cols), limit: capacity, shrink: ['c', 'r'] },
      {
        measure: (b) => Math.ceil(b.c / 64) * Math.ceil(b.r / chunk),
        limit: maxGroups * maxGroups,
        shrink: ['r', 'c'],
      },
    ],
    chunk,
  );
  // planBlocks keeps blocks above the tile multiples of it; a smaller block becomes the chunk.
  if (block.r < chunk) chunk = block.r;
  return { chunk, chunks: Math.ceil(rows / chunk), windowRows: block.r, windowCols: block.c };
}

interface MatrixView {
  buffer: GPUBuffer;
  ld: number;
  offset: number;
}

async function levelDispatches(
  rt: GpuRuntime,
  src: MatrixView & { rows: number },
  cols: number,
  dst: MatrixView,
  level: Level,
  accumulate: boolean,
): Promise<Dispatch[]> {
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const maxGroups = rt.limits.maxComputeWorkgroupsPerDimension;
  const pipeline = await columnSumKernel.pipeline(rt, 'main', { ACCUMULATE: Number(accumulate) });
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < src.rows; r0 += level.windowRows) {
    const rb = Math.min(level.windowRows, src.rows - r0);
    const chunks = Math.ceil(rb / level.chunk);
    for (let c0 = 0; c0 < cols; c0 += level.windowCols) {
      const cb = Math.min(level.windowCols, cols - c0);
      const x = bindWindow(src.buffer, src.offset + r0 * src.ld + c0, span(rb, cb, src.ld), align);
      const out = bindWindow(
        dst.buffer,
        dst.offset + (r0 / level.chunk) * dst.ld + c0,
        span(chunks, cb, dst.ld),
        align,
      );
      const colGroups = Math.ceil(cb / 64);
      dispatches.push({
        pipeline,
        uniforms: columnSumKernel.pack({
          rows: rb,
          cols: cb,
          ld_x: src.ld,
          ld_out: dst.ld,
          off_x: x.base,
          off_out: out.base,
          chunk: level.chunk,
          chunks,
          col_groups: colGroups,
        }),
        storage: [x.binding, out.binding],
        workgroups: foldGrid(colGroups * chunks, maxGroups),
      });
    }
  }
  return dispatches;
}
