// y = W·x for a bitmask-unstructured W on the GPU (shaders/sparse/bitmaskMatvec.wgsl): the
// decode-time product of a linear layer with one token. W is split into blocks of whole rows whose
// mask words, row offsets and values each fit one storage binding (bitmaskRowBlocks.ts), so a
// block's binding covers exactly its rows' values. On the 'workgroup' kernel (GPUs) a long row takes
// a workgroup and a prefix sum; the 'direct' kernel (CPU adapters, kernels/matvecKernel.ts) gives
// every row, at any length, one invocation that walks its mask words' set bits from the row's
// offset into the values, with no workgroup memory and no barrier (bitmask_matvec_rows).

import shader from '../../shaders/sparse/bitmaskMatvec.wgsl?raw';
import { GpuLimitError } from '../gpu/errors';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from '../kernels/kernel';
import { type MatvecKernel, matvecKernelFor } from '../kernels/matvecKernel';
import { foldGrid } from '../kernels/params';
import { bindWindow, windowCapacity } from '../kernels/window';
import { bitmaskWordsPerRow } from './bitmaskFormat';
import { bitmaskRowBlocks, bitmaskValuesWindow } from './bitmaskRowBlocks';
import { checkVectors, type SparseMatvecArgs } from './matvecArgs';
import type { BitmaskOnGpu } from './upload';

const bitmaskMatvecKernel = defineKernel({
  name: 'bitmaskMatvec',
  code: shader,
  entryPoints: ['bitmask_matvec', 'bitmask_matvec_rows'],
  uniforms: {
    rows: 'u32',
    words: 'u32',
    run: 'u32',
    off_m: 'u32',
    off_o: 'u32',
    off_x: 'u32',
    off_y: 'u32',
    off_v: 'u32',
    first_value: 'u32',
    acc: 'u32',
  },
});

const GROUP = 128;
const ROWS_PER_GROUP = 64;

/**
 * On the workgroup kernel, rows of at most this many mask words (256 columns) take one invocation
 * per row (bitmask_matvec_rows): no prefix sum, no tree, no barrier. Longer ones take a 128-wide
 * workgroup.
 */
export const BITMASK_SHORT_ROW_WORDS = 8;

/** Whether rows of `words` mask words take one invocation each on `kernel`. */
function perRow(kernel: MatvecKernel, words: number): boolean {
  return kernel === 'direct' || words <= BITMASK_SHORT_ROW_WORDS;
}

/**
 * The error bound's multiple of the unit roundoff, relative to Σ|w||x| per row: one invocation's
 * serial additions (the whole row, or 32·⌈words/128⌉ columns and 7 tree levels), one for the
 * products and one for accumulating onto y.
 */
export function bitmaskMatvecBound(words: number, kernel: MatvecKernel): number {
  return perRow(kernel, words) ? 32 * words + 2 : 32 * Math.ceil(words / GROUP) + 7 + 2;
}

/** The blocks of rows [r0, r1) one dispatch each covers under the runtime's limits. */
export function bitmaskMatvecBlocks(rt: GpuRuntime, w: BitmaskOnGpu): [number, number][] {
  const capacity = windowCapacity(
    rt.limits.maxStorageBufferBindingSize,
    rt.limits.minStorageBufferOffsetAlignment,
  );
  const words = bitmaskWordsPerRow(w.cols);
  if (words > capacity || w.cols > capacity)
    throw new GpuLimitError(
      `bitmaskMatvec: a row of ${w.name} (${w.cols} columns) does not fit one storage binding`,
    );
  const grid = rt.limits.maxComputeWorkgroupsPerDimension ** 2;
  const most = Math.min(grid, Math.floor(capacity / words), capacity - 1);
  return bitmaskRowBlocks('bitmaskMatvec', w, most, capacity);
}

export async function bitmaskMatvecDispatches(
  rt: GpuRuntime,
  args: SparseMatvecArgs<BitmaskOnGpu>,
): Promise<Dispatch[]> {
  const w = args.weights;
  checkVectors('bitmaskMatvec', w.rows, w.cols, args, [
    ['mask', w.mask],
    ['rowOffsets', w.rowOffsets],
    ['values', w.values],
  ]);
  const words = bitmaskWordsPerRow(w.cols);
  const oneRowEach = perRow(matvecKernelFor('bitmaskMatvec', rt, args.kernel), words);
  const pipeline = await bitmaskMatvecKernel.pipeline(
    rt,
    oneRowEach ? 'bitmask_matvec_rows' : 'bitmask_matvec',
  );
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const xw = bindWindow(args.x, args.offsetX ?? 0, w.cols, align);
  const dispatches: Dispatch[] = [];
  for (const [r0, r1] of bitmaskMatvecBlocks(rt, w)) {
    const r = r1 - r0;
    const { first, count } = bitmaskValuesWindow(w, r0, r1);
    const mw = bindWindow(w.mask, r0 * words, r * words, align);
    const ow = bindWindow(w.rowOffsets, r0, r, align);
    const vw = bindWindow(w.values, first, count, align);
    const yw = bindWindow(args.y, (args.offsetY ?? 0) + r0, r, align);
    dispatches.push({
      pipeline,
      uniforms: bitmaskMatvecKernel.pack({
        rows: r,
        words,
        run: Math.ceil(words / GROUP),
        off_m: mw.base,
        off_o: ow.base,
        off_x: xw.base,
        off_y: yw.base,
        off_v: vw.base,
        first_value: first,
        acc: args.accumulate ? 1 : 0,
      }),
      storage: [mw.binding, ow.binding, vw.binding, xw.binding, yw.binding],
      workgroups: foldGrid(
        oneRowEach ? Math.ceil(r / ROWS_PER_GROUP) : r,
        rt.limits.maxComputeWorkgroupsPerDimension,
      ),
    });
  }
  return dispatches;
}

export async function bitmaskMatvec(rt: GpuRuntime, args: SparseMatvecArgs<BitmaskOnGpu>): Promise<void> {
  rt.submit(await bitmaskMatvecDispatches(rt, args));
}
