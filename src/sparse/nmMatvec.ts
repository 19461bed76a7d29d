// y = W·x for an N:M compressed W on the GPU (shaders/sparse/nmMatvec.wgsl): the decode-time
// product of a linear layer with one token, memory bound, reading 8.5 bytes per group of 4 for 2:4
// instead of dense's 16. On the 'workgroup' kernel (GPUs) short rows take one invocation each:
// measured on stories260K's 64- and 172-wide rows, a 128-wide workgroup per row spent its time in
// the reduction's barriers. The 'direct' kernel (CPU adapters, kernels/matvecKernel.ts) takes 4
// rows an invocation at every length; for 2:4 its own module (nmMatvec24.wgsl) takes 8, loads each
// group's x once for all 8 rows and its two kept values as one vec2, and tests index bits without
// shifting (nm_matvec_direct_24). W is split into blocks of whole rows whose values and
// indices each fit one storage binding; a row longer than a binding is a limit error (a 128 MiB
// binding, WebGPU's minimum, holds 32 M kept values).

import shader from '../../shaders/sparse/nmMatvec.wgsl?raw';
import shader24 from '../../shaders/sparse/nmMatvec24.wgsl?raw';
import { GpuLimitError } from '../gpu/errors';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from '../kernels/kernel';
import { type MatvecKernel, matvecKernelFor } from '../kernels/matvecKernel';
import { foldGrid } from '../kernels/params';
import { bindWindow, windowCapacity } from '../kernels/window';
import { checkVectors, type SparseMatvecArgs } from './matvecArgs';
import { nmIndexBits, nmIndicesPerWord } from './nmFormat';
import type { NmOnGpu } from './upload';

const uniforms = {
  rows: 'u32',
  kept: 'u32',
  words: 'u32',
  off_v: 'u32',
  off_i: 'u32',
  off_x: 'u32',
  off_y: 'u32',
  acc: 'u32',
} as const;

const nmMatvecKernel = defineKernel({
  name: 'nmMatvec',
  code: shader,
  entryPoints: ['nm_matvec', 'nm_matvec_rows', 'nm_matvec_direct'],
  uniforms,
});

// The same block: the wrapper packs it once for either module.
const nmMatvec24Kernel = defineKernel({
  name: 'nmMatvec24',
  code: shader24,
  entryPoints: ['nm_matvec_direct_24'],
  uniforms,
});

/**
 * Rows with at most this many kept values take one invocation per row (nm_matvec_rows): no
 * workgroup memory, no barrier, 64 rows per workgroup. Longer rows take a 128-wide workgroup each.
 */
export const NM_SHORT_ROW_KEPT = 128;

/**
 * The error bound's multiple of the unit roundoff, relative to Σ|w||x| per row: the serial additions
 * of one invocation (the whole row on the direct kernel and the short-row path; n·⌈groups/128⌉ and
 * 7 tree levels otherwise), one for the products and one for accumulating onto y.
 */
export function nmMatvecBound(kept: number, n: number, kernel: MatvecKernel): number {
  return kernel === 'direct' || kept <= NM_SHORT_ROW_KEPT ? kept + 2 : n * Math.ceil(kept / n / 128) + 7 + 2;
}

/** Rows a workgroup of the short-row path covers (64 invocations of one row). */
const ROWS_PER_GROUP = 64;
/** Rows a workgroup of the direct kernel covers (16 invocations of 4 rows; of 8 for 2:4). */
const DIRECT_ROWS_PER_GROUP = 16 * 4;
const DIRECT_24_ROWS_PER_GROUP = 16 * 8;

/** Rows of W per dispatch: values and indices of whole rows fit one binding, rows fit the folded grid. */
export function nmMatvecRows(rt: GpuRuntime, w: NmOnGpu): number {
  const capacity = windowCapacity(
    rt.limits.maxStorageBufferBindingSize,
    rt.limits.minStorageBufferOffsetAlignment,
  );
  if (w.kept > capacity || w.cols > capacity)
    throw new GpuLimitError(
      `nmMatvec: a row of ${w.name} (${w.cols} columns, ${w.kept} kept values) does not fit one storage binding of ${capacity} elements`,
    );
  const grid = rt.limits.maxComputeWorkgroupsPerDimension ** 2;
  return Math.min(w.rows, grid, Math.floor(capacity / w.kept), Math.floor(capacity / w.words));
}

/** The pipeline constants of a matrix's N:M packing. */
export function nmConstants(w: NmOnGpu): Record<string, number> {
  return { N: w.n, M: w.m, BITS: nmIndexBits(w.m), PER_WORD: nmIndicesPerWord(w.m) };
}

export async function nmMatvecDispatches(
  rt: GpuRuntime,
  args: SparseMatvecArgs<NmOnGpu>,
): Promise<Dispatch[]> {
  const w = args.weights;
  checkVectors('nmMatvec', w.rows, w.cols, args, [
    ['values', w.values],
    ['indices', w.indices],
  ]);
  const kernel = matvecKernelFor('nmMatvec', rt, args.kernel);
  const align = rt.limits.minStorageBufferOffsetAlignment;
  // The 2:4 kernel reads a group's two values as one vec2: each row's first value (an even element,
  // kept being even) must stay even inside its binding, which an offset alignment of 8 bytes keeps.
  const entry =
    kernel === 'direct'
      ? w.n === 2 && w.m === 4 && align % 8 === 0
        ? 'nm_matvec_direct_24'
        : 'nm_matvec_direct'
      : w.kept <= NM_SHORT_ROW_KEPT
        ? 'nm_matvec_rows'
        : 'nm_matvec';
  const perGroup = {
    nm_matvec_direct_24: DIRECT_24_ROWS_PER_GROUP,
    nm_matvec_direct: DIRECT_ROWS_PER_GROUP,
    nm_matvec_rows: ROWS_PER_GROUP,
    nm_matvec: 1,
  }[entry];
  const pipeline =
    entry === 'nm_matvec_direct_24'
      ? await nmMatvec24Kernel.pipeline(rt, entry)
      : await nmMatvecKernel.pipeline(rt, entry, nmConstants(w));
  const blockRows = nmMatvecRows(rt, w);
  const xw = bindWindow(args.x, args.offsetX ?? 0, w.cols, align);
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < w.rows; r0 += blockRows) {
    const r = Math.min(blockRows, w.rows - r0);
    const vw = bindWindow(w.values, r0 * w.kept, r * w.kept, align);
    const iw = bindWindow(w.indices, r0 * w.words, r * w.words, align);
    const yw = bindWindow(args.y, (args.offsetY ?? 0) + r0, r, align);
    dispatches.push({
      pipeline,
      uniforms: nmMatvecKernel.pack({
        rows: r,
        kept: w.kept,
        words: w.words,
        off_v: vw.base,
        off_i: iw.base,
        off_x: xw.base,
        off_y: yw.base,
        acc: args.accumulate ? 1 : 0,
      }),
      storage: [vw.binding, iw.binding, xw.binding, yw.binding],
      workgroups: foldGrid(Math.ceil(r / perGroup), rt.limits.maxComputeWorkgroupsPerDimension),
    });
  }
  return dispatches;
}

export async function nmMatvec(rt: GpuRuntime, args: SparseMatvecArgs<NmOnGpu>): Promise<void> {
  rt.submit(await nmMatvecDispatches(rt, args));
}
