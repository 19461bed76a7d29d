// y = A·x for a row-major rows × cols matrix A (shaders/kernels/matvec.wgsl) on one of two kernels
// (matvecKernel.ts): 'workgroup', one workgroup per row and a tree of partial sums, for GPUs; and
// 'direct', 8 rows an invocation summed serially with no barrier, for CPU adapters; when cols is a
// multiple of 4 the direct kernel reads A and x as vec4 (matvec_direct4), else as scalars. The
// tiled matmul kernel gives a 1-column product one useful column in every 64-wide tile; this one
// reads each element of A once with every invocation busy. A matrix larger than one storage
// binding is split into blocks of whole rows and, when a single row does not fit, of columns: the
// blocks after a row's first column block add to y. With `dots`, the last column block also
// writes dots[i] = xRows[i]·y[i] (for a square A and xRows = x, the terms of xᵀA·x).
// With `transpose`, y = Aᵀ·x by one invocation per column and no workgroup memory: for a
// symmetric A the same product without the per-row tree's barriers (Lanczos on a Gram uses it).

import shader from '../../shaders/kernels/matvec.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { type MatvecKernel, matvecKernelFor } from './matvecKernel';
import { foldGrid } from './params';
import { bindWindow, windowCapacity } from './window';

const matvecKernel = defineKernel({
  name: 'matvec',
  code: shader,
  entryPoints: [
    'matvec',
    'matvec_dots',
    'matvec_t',
    'matvec_direct',
    'matvec_direct_dots',
    'matvec_direct4',
    'matvec_direct4_dots',
  ],
  uniforms: {
    rows: 'u32',
    cols: 'u32',
    ld: 'u32',
    off_g: 'u32',
    off_x: 'u32',
    off_y: 'u32',
    off_xr: 'u32',
    off_dots: 'u32',
    acc: 'u32',
  },
});

export interface MatvecArgs {
  a: GPUBuffer;
  x: GPUBuffer;
  y: GPUBuffer;
  rows: number;
  cols: number;
  /** Also write out[i] = xRows[i]·y[i] for i < rows (not with `transpose`). */
  dots?: { xRows: GPUBuffer; out: GPUBuffer };
  /** y = Aᵀ·x instead (x has rows elements, y cols): one invocation per column, no barriers. */
  transpose?: boolean;
  /** Which kernel runs A·x; default: the adapter's (matvecKernel.ts). Tests name both. */
  kernel?: MatvecKernel;
}

/** Rows one workgroup of the direct kernel covers: 64 invocations of 8 rows (matvec.wgsl). */
const DIRECT_ROWS_PER_GROUP = 64 * 8;

/**
 * Whether the direct kernel reads A and x as vec4: a vec4 binding needs every window to start and
 * end on a whole vec4, which holds when cols (A's leading dimension) is a multiple of 4, since
 * matvecBlocks cuts column blocks at multiples of 4 and bindings start at multiples of `align`.
 */
export function directReadsVec4(cols: number, alignBytes: number): boolean {
  return cols % 4 === 0 && alignBytes % 16 === 0;
}

/**
 * The error bound's multiple of the unit roundoff, relative to Σ|a||x| per row, for a product of
 * `cols` columns split into `columnBlocks` blocks: one invocation's serial additions (⌈c/128⌉ on
 * the workgroup kernel, then 7 tree levels; the whole row on the direct one), one addition per later
 * column block, one rounding of the products and one of x_rows·y for the dots. The direct kernel's
 * vec4 form adds ⌈c/4⌉ + 3 serially (4 partial sums, then their sum), within the same bound.
 */
export function matvecBound(kernel: MatvecKernel, cols: number, columnBlocks: number): number {
  return (kernel === 'direct' ? cols : Math.ceil(cols / 128) + 7) + columnBlocks + 1;
}

/** The rows × cols blocks of A that one dispatch covers under the runtime's limits. */
export function matvecBlocks(rt: GpuRuntime, rows: number, cols: number): { rows: number; cols: number } {
  const capacity = windowCapacity(
    rt.limits.maxStorageBufferBindingSize,
    rt.limits.minStorageBufferOffsetAlignment,
  );
  // A column block shorter than the row ends on a multiple of 4 columns, so that every block of a
  // row whose length is a multiple of 4 is one too (directReadsVec4).
  const blockCols = cols <= capacity ? cols : capacity - (capacity % 4);
  // (blockRows − 1)·cols + blockCols elements of A fit one binding, and one workgroup per row fits
  // the (folded) grid.
  const grid = rt.limits.maxComputeWorkgroupsPerDimension ** 2;
  const blockRows = Math.min(rows, grid, Math.floor((capacity - blockCols) / cols) + 1);
  return { rows: blockRows, cols: blockCols };
}

export async function matvec(rt: GpuRuntime, args: MatvecArgs): Promise<void> {
  const { a, x, y, rows, cols, dots, transpose } = args;
  const kernel = matvecKernelFor('matvec', rt, args.kernel);
  for (const [name, v] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`matvec: ${name} = ${v} must be an integer ≥ 1`);
  }
  const need = (what: string, buffer: GPUBuffer, elements: number) => {
    if (buffer.size < 4 * elements)
      throw new RangeError(
        `matvec: ${what} needs ${4 * elements} bytes, "${buffer.label}" has ${buffer.size}`,
      );
  };
  need('a', a, rows * cols);
  need('x', x, transpose ? rows : cols);
  need('y', y, transpose ? cols : rows);
  if (transpose && dots) throw new RangeError('matvec: dots are not available with transpose');
  if (y === x || y === a) throw new RangeError('matvec: y must be a different buffer from a and x');
  if (dots) {
    need('dots.xRows', dots.xRows, rows);
    need('dots.out', dots.out, rows);
    if (dots.out === y || dots.out === dots.xRows || dots.out === a || dots.out === x)
      throw new RangeError('matvec: dots.out must be a buffer of its own');
  }
  const direct = kernel === 'direct';
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const [plainEntry, dotsEntry] = !direct
    ? (['matvec', 'matvec_dots'] as const)
    : directReadsVec4(cols, align)
      ? (['matvec_direct4', 'matvec_direct4_dots'] as const)
      : (['matvec_direct', 'matvec_direct_dots'] as const);
  const plain = await matvecKernel.pipeline(rt, plainEntry);
  const withDots = dots ? await matvecKernel.pipeline(rt, dotsEntry) : null;
  const block = matvecBlocks(rt, rows, cols);
  const dispatches: Dispatch[] = [];
  if (transpose) {
    const pipeline = await matvecKernel.pipeline(rt, 'matvec_t');
    // Column blocks outermost, so each block's later row blocks add to what the first wrote.
    for (let c0 = 0; c0 < cols; c0 += block.cols) {
      const c = Math.min(block.cols, cols - c0);
      for (let r0 = 0; r0 < rows; r0 += block.rows) {
        const r = Math.min(block.rows, rows - r0);
        const gw = bindWindow(a, r0 * cols + c0, (r - 1) * cols + c, align);
        const xw = bindWindow(x, r0, r, align);
        const yw = bindWindow(y, c0, c, align);
        dispatches.push({
          pipeline,
          uniforms: matvecKernel.pack({
            rows: r,
            cols: c,
            ld: cols,
            off_g: gw.base,
            off_x: xw.base,
            off_y: yw.base,
            off_xr: 0,
            off_dots: 0,
            acc: r0 > 0 ? 1 : 0,
          }),
          storage: [gw.binding, xw.binding, yw.binding],
          workgroups: foldGrid(Math.ceil(c / 256), rt.limits.maxComputeWorkgroupsPerDimension),
        });
      }
    }
    rt.submit(dispatches);
    return;
  }
  for (let r0 = 0; r0 < rows; r0 += block.rows) {
    const r = Math.min(block.rows, rows - r0);
    for (let c0 = 0; c0 < cols; c0 += block.cols) {
      const c = Math.min(block.cols, cols - c0);
      const last = c0 + c === cols;
      const gw = bindWindow(a, r0 * cols + c0, (r - 1) * cols + c, align);
      const xw = bindWindow(x, c0, c, align);
      const yw = bindWindow(y, r0, r, align);
      const storage = [gw.binding, xw.binding, yw.binding];
      let offXr = 0;
      let offDots = 0;
      if (dots && last) {
        const xr = bindWindow(dots.xRows, r0, r, align);
        const dw = bindWindow(dots.out, r0, r, align);
        storage.push(xr.binding, dw.binding);
        offXr = xr.base;
        offDots = dw.base;
      }
      dispatches.push({
        pipeline: dots && last ? (withDots as GPUComputePipeline) : plain,
        uniforms: matvecKernel.pack({
          rows: r,
          cols: c,
          ld: cols,
          off_g: gw.base,
          off_x: xw.base,
          off_y: yw.base,
          off_xr: offXr,
          off_dots: offDots,
          acc: c0 > 0 ? 1 : 0,
        }),
        storage,
        workgroups: foldGrid(
          direct ? Math.ceil(r / DIRECT_ROWS_PER_GROUP) : r,
          rt.limits.maxComputeWorkgroupsPerDimension,
        ),
      });
    }
  }
  rt.submit(dispatches);
}
