// y = W·x for a W in the sliced format (slicedFormat.ts; shaders/sparse/slicedMatvec.wgsl): one
// invocation per slice of 8 rows on every adapter. W is split into blocks of whole slices whose
// slice starts, step words and values each fit one storage binding, found from the host's copy of
// the slice starts (a block's slots are a contiguous run whose length depends on its rows).

import shader from '../../shaders/sparse/slicedMatvec.wgsl?raw';
import { GpuLimitError } from '../gpu/errors';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from '../kernels/kernel';
import { foldGrid } from '../kernels/params';
import { bindWindow, windowCapacity } from '../kernels/window';
import { checkVectors, type SparseMatvecArgs } from './matvecArgs';
import { SLICE_ROWS, slicedSlices } from './slicedFormat';
import type { SlicedOnGpu } from './upload';

const slicedMatvecKernel = defineKernel({
  name: 'slicedMatvec',
  code: shader,
  entryPoints: ['sliced_matvec'],
  uniforms: {
    slices: 'u32',
    rows: 'u32',
    off_s: 'u32',
    off_k: 'u32',
    off_v: 'u32',
    off_x: 'u32',
    off_y: 'u32',
    first_slot: 'u32',
    acc: 'u32',
  },
});

const GROUP = 64;

/**
 * Where bindings start: the device's alignment, at least 16 bytes so that a window of values starts
 * a whole number of vec4s into its binding (a slot's values start on a 32-byte boundary).
 */
function alignment(rt: GpuRuntime): number {
  return Math.max(16, rt.limits.minStorageBufferOffsetAlignment);
}

/** The most slots a slice of W has: a bound on the entries one of its rows adds up. */
export function slicedMostSlots(w: Pick<SlicedOnGpu, 'hostSliceStarts'>): number {
  const starts = w.hostSliceStarts;
  let most = 0;
  for (let s = 0; s + 1 < starts.length; s++)
    most = Math.max(most, (starts[s + 1] as number) - (starts[s] as number));
  return most;
}

/**
 * The error bound's multiple of the unit roundoff, relative to Σ|w||x| per row, for a W whose
 * widest slice has `slots` slots: one invocation adds a row's entries in column order, at most
 * slots − 1 additions (the +0 padding adds nothing), one rounding of each product and one for
 * accumulating onto y.
 */
export function slicedMatvecBound(slots: number): number {
  return slots + 2;
}

/** The blocks of slices [s0, s1) one dispatch each covers under the runtime's limits. */
export function slicedMatvecBlocks(rt: GpuRuntime, w: SlicedOnGpu): [number, number][] {
  const capacity = windowCapacity(rt.limits.maxStorageBufferBindingSize, alignment(rt));
  if (w.cols > capacity)
    throw new GpuLimitError(
      `slicedMatvec: x for ${w.name} (${w.cols} columns) does not fit one storage binding`,
    );
  const starts = w.hostSliceStarts;
  const slices = slicedSlices(w.rows);
  // A block binds its slices' starts (one more than its slices), its rows of y, its step words (one
  // a slot) and values (8 a slot); its invocations fold over two grid dimensions.
  const most = Math.max(
    1,
    Math.min(
      GROUP * rt.limits.maxComputeWorkgroupsPerDimension ** 2,
      capacity - 1,
      Math.floor(capacity / SLICE_ROWS),
    ),
  );
  const blocks: [number, number][] = [];
  for (let s0 = 0; s0 < slices; ) {
    let s1 = Math.min(slices, s0 + most);
    while (SLICE_ROWS * ((starts[s1] as number) - (starts[s0] as number)) > capacity) {
      if (s1 === s0 + 1)
        throw new GpuLimitError(
          `slicedMatvec: slice ${s0} of ${w.name} (rows ${SLICE_ROWS * s0}–${Math.min(w.rows, SLICE_ROWS * s0 + SLICE_ROWS) - 1}) has more values than one storage binding holds (${capacity})`,
        );
      s1 = s0 + Math.floor((s1 - s0) / 2);
    }
    blocks.push([s0, s1]);
    s0 = s1;
  }
  return blocks;
}

export async function slicedMatvecDispatches(
  rt: GpuRuntime,
  args: Omit<SparseMatvecArgs<SlicedOnGpu>, 'kernel'>,
): Promise<Dispatch[]> {
  const w = args.weights;
  checkVectors('slicedMatvec', w.rows, w.cols, args, [
    ['sliceStarts', w.sliceStarts],
    ['steps', w.steps],
    ['values', w.values],
  ]);
  const pipeline = await slicedMatvecKernel.pipeline(rt, 'sliced_matvec');
  const align = alignment(rt);
  const starts = w.hostSliceStarts;
  // The last slot a binding may start at: an empty matrix's buffers hold one slot of padding.
  const lastSlot = w.steps.size / 4 - 1;
  const xw = bindWindow(args.x, args.offsetX ?? 0, w.cols, align);
  const dispatches: Dispatch[] = [];
  for (const [s0, s1] of slicedMatvecBlocks(rt, w)) {
    const rows = Math.min(w.rows, SLICE_ROWS * s1) - SLICE_ROWS * s0;
    const first = Math.min(starts[s0] as number, lastSlot);
    const slots = Math.max(1, (starts[s1] as number) - first);
    const sw = bindWindow(w.sliceStarts, s0, s1 - s0 + 1, align);
    const kw = bindWindow(w.steps, first, slots, align);
    const vw = bindWindow(w.values, SLICE_ROWS * first, SLICE_ROWS * slots, align);
    const yw = bindWindow(args.y, (args.offsetY ?? 0) + SLICE_ROWS * s0, rows, align);
    dispatches.push({
      pipeline,
      uniforms: slicedMatvecKernel.pack({
        slices: s1 - s0,
        rows,
        off_s: sw.base,
        off_k: kw.base,
        off_v: vw.base / 4,
        off_x: xw.base,
        off_y: yw.base,
        first_slot: first,
        acc: args.accumulate ? 1 : 0,
      }),
      storage: [sw.binding, kw.binding, vw.binding, xw.binding, yw.binding],
      workgroups: foldGrid(Math.ceil((s1 - s0) / GROUP), rt.limits.maxComputeWorkgroupsPerDimension),
    });
  }
  return dispatches;
}

export async function slicedMatvec(
  rt: GpuRuntime,
  args: Omit<SparseMatvecArgs<SlicedOnGpu>, 'kernel'>,
): Promise<void> {
  rt.submit(await slicedMatvecDispatches(rt, args));
}
