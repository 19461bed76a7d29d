// Many small matrices' S-RSI in one dispatch (shaders/train/optim/srsi.wgsl srsi_batch): one
// workgroup per matrix, the matrix chosen by the workgroup's index from a table of shapes and
// offsets. Why: on a CPU driver (SwiftShader) one single-workgroup dispatch per matrix keeps one
// core busy and pays the fixed cost of a dispatch per matrix; one dispatch of many workgroups
// spreads the matrices over every core and pays that cost once. The price is memory: every batched
// matrix's dense V must be alive at once (the per-matrix path reuses one V buffer, matrix after
// matrix), so the plan below caps the batch's V at a byte budget and leaves the rest per matrix.
//
// Layout of one batch: a V buffer holding each matrix's V (rows × cols, starting on the device's
// storage-offset alignment so that the fused step can bind it as a window from element 0) followed
// by a copy of its U_prev for the warm start, and a sketch buffer holding each matrix's sketch
// (srsiGpu.ts sketchLayout) one after another. The S-RSI leaves each matrix's new factors, rotated
// (srsi.wgsl srsi_rotate), in its V's place, whose region is made large enough for them; the host
// copies them into Q and U once it has read the ranks back, so no rotation dispatch is needed. Each buffer must fit one storage binding, and a
// batch has at most maxComputeWorkgroupsPerDimension matrices; a larger set becomes several batches.

import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import { bindWindow } from '../../kernels/window';
import { adapproxKernels } from './adapproxKernels';
import { costliestFirst, f32Bits, setEntry } from './jobTable';
import { sketchLayout, srsiWorkgroup, workOverrides } from './srsiGpu';

/** Words per matrix in the table (srsi.wgsl SRSI_TABLE_WORDS, SrsiJob's fields). */
export const SRSI_TABLE_WORDS = 18;

/** What the plan needs of one matrix. */
export interface BatchShape {
  rows: number;
  cols: number;
  w: number;
  /** Floats of the warm start's U_prev copy (long × stride), 0 without one. */
  warmFloats: number;
  /**
   * Floats of the rotated factors the S-RSI leaves in V's place ((short + long) × their widest
   * stride); the matrix's region holds the larger of these and V with U_prev. Default 0.
   */
  factorFloats?: number;
}

/** Where a batched matrix lives: its batch, and element offsets in the batch's buffers. */
export interface BatchPlacement {
  batch: number;
  /** Its V in the V buffer (aligned to the storage-offset alignment). */
  v0: number;
  /** Its U_prev copy in the V buffer (right after V). */
  u0: number;
  /** (v0 is also where the S-RSI leaves its new factors: Q then U, row length the stride.) */
  /** Its sketch in the sketch buffer. */
  s0: number;
  /** Its entry's index in the step's table. */
  entry: number;
}

export interface BatchGroup {
  /** Floats of the batch's V buffer and of its sketch buffer. */
  vFloats: number;
  sketchFloats: number;
  /** Its widest sketch (w). */
  w: number;
  /** Its first entry in the table and how many it has. */
  first: number;
  count: number;
}

export interface BatchPlan {
  /** Per matrix, in the order given: its placement, or null where it keeps the per-matrix path. */
  placements: (BatchPlacement | null)[];
  batches: BatchGroup[];
  /** Entries in the table (batched matrices). */
  entries: number;
}

export interface BatchLimits {
  /** maxStorageBufferBindingSize. */
  bindingBytes: number;
  /** minStorageBufferOffsetAlignment. */
  alignBytes: number;
  /** maxComputeWorkgroupsPerDimension: matrices per batch. */
  maxMatrices: number;
  /** The most bytes all batches' V buffers (V and U_prev copies) may take together. */
  budgetBytes: number;
}

const alignUp = (x: number, to: number) => Math.ceil(x / to) * to;

/**
 * Places the matrices, in order, into batches: a matrix joins the current batch while that batch's
 * V buffer and sketch buffer each fit one binding and it has room for another workgroup, else it
 * opens a new batch. A matrix whose V (with its U_prev copy) would take the batches past the budget,
 * or whose own V or sketch cannot fit a binding, is not batched (null): it keeps the per-matrix path.
 * The data follow the given order; the entries (the workgroups) of each batch go costliest first.
 */
export function planSrsiBatches(shapes: readonly BatchShape[], limits: BatchLimits): BatchPlan {
  const { bindingBytes, alignBytes, budgetBytes } = limits;
  if (!(alignBytes > 0 && alignBytes % 4 === 0))
    throw new RangeError(
      `the storage-offset alignment must be a positive multiple of 4 bytes, got ${alignBytes}`,
    );
  const alignFloats = alignBytes / 4;
  const bindingFloats = Math.floor(bindingBytes / 4);
  const budgetFloats = Math.floor(budgetBytes / 4);
  // The table is bound as a window around a batch's entries, which may start up to one alignment
  // into the window.
  const maxMatrices = Math.min(
    limits.maxMatrices,
    Math.floor((bindingFloats - alignFloats) / SRSI_TABLE_WORDS),
  );
  const placements: (BatchPlacement | null)[] = [];
  const batches: BatchGroup[] = [];
  // Where the current batch's next V starts (aligned).
  let cursor = 0;
  let used = 0;
  let entries = 0;
  for (const s of shapes) {
    const short = Math.min(s.rows, s.cols);
    const long = Math.max(s.rows, s.cols);
    const v = s.rows * s.cols;
    const data = Math.max(v + s.warmFloats, s.factorFloats ?? 0);
    // The next matrix's V starts aligned, so this one's region is rounded up.
    const region = alignUp(data, alignFloats);
    const sketch = sketchLayout(short, long, s.w).floats;
    if (maxMatrices < 1 || used + region > budgetFloats || data > bindingFloats || sketch > bindingFloats) {
      placements.push(null);
      continue;
    }
    let last = batches[batches.length - 1];
    if (
      !last ||
      last.count >= maxMatrices ||
      cursor + data > bindingFloats ||
      last.sketchFloats + sketch > bindingFloats
    ) {
      last = { vFloats: 0, sketchFloats: 0, w: 0, first: entries, count: 0 };
      batches.push(last);
      cursor = 0;
    }
    placements.push({
      batch: batches.length - 1,
      v0: cursor,
      u0: cursor + v,
      s0: last.sketchFloats,
      entry: entries,
    });
    // The V buffer ends at its last matrix's data: no padding after it.
    last.vFloats = cursor + data;
    last.sketchFloats += sketch;
    last.w = Math.max(last.w, s.w);
    last.count++;
    cursor += region;
    used += region;
    entries++;
  }
  // The costliest matrices first in each batch (jobTable.ts costliestFirst), by an estimate of
  // their multiply-adds: the 2l products with V (l = 2), the QRs' 6 passes of about 1.5·short·w²
  // each, and some 5 Jacobi sweeps of 7w³.
  for (const b of batches.keys()) {
    const mine = shapes.flatMap((s, i) => {
      const p = placements[i];
      return p && p.batch === b ? [{ s, p }] : [];
    });
    costliestFirst(
      mine.map((m) => m.p),
      mine.map(
        ({ s }) => 4 * s.rows * s.cols * s.w + 9 * Math.min(s.rows, s.cols) * s.w ** 2 + 35 * s.w ** 3,
      ),
    );
  }
  return { placements, batches, entries };
}

/** One matrix's entry in the table: SrsiJob's fields (srsi.wgsl). */
export interface BatchEntry {
  rows: number;
  cols: number;
  w: number;
  /** The parameter's slot and its record's offset in the step's scalar buffer. */
  slot: number;
  record: number;
  kMin: number;
  kCap: number;
  key: number;
  iterations: number;
  threshold: number;
  /** Columns of Ω taken from U_prev (0: a fresh Gaussian) and U_prev's row stride. */
  taken: number;
  uStride: number;
  /** The row stride of the new factors left in V's place; 0: the rank the S-RSI chooses. */
  outStride: number;
  placement: BatchPlacement;
}

/** The table of a step's batched matrices, entry after entry (SRSI_TABLE_WORDS words each). */
export function packSrsiTable(entries: readonly BatchEntry[]): Uint32Array {
  const count = Math.max(0, ...entries.map((e) => e.placement.entry + 1));
  const table = new Uint32Array(Math.max(1, count * SRSI_TABLE_WORDS));
  for (const e of entries) {
    const short = Math.min(e.rows, e.cols);
    const long = Math.max(e.rows, e.cols);
    const p = e.placement;
    const words = [
      short,
      long,
      e.cols,
      e.w,
      e.rows > e.cols ? 1 : 0,
      e.slot,
      e.record,
      e.kMin,
      e.kCap,
      e.key,
      e.iterations,
      e.taken,
      f32Bits(e.threshold),
      e.uStride,
      p.v0,
      p.s0,
      p.u0,
      e.outStride,
    ];
    setEntry(table, p.entry, SRSI_TABLE_WORDS, words, 'S-RSI batch');
  }
  return table;
}

export interface BatchArgs {
  group: BatchGroup;
  /** The batch's V buffer (V and U_prev copies) and sketch buffer. */
  v: GPUBuffer;
  sketch: GPUBuffer;
  scalars: GPUBuffer;
  /** The step's table (packSrsiTable), bound as a window around this batch's entries. */
  table: GPUBuffer;
  /** Invocations of each workgroup (srsi.wgsl's WG); default srsiWorkgroup (srsiGpu.ts). */
  workgroup?: number;
}

/**
 * The S-RSI of every matrix of one batch: one dispatch, one workgroup per matrix. It writes each
 * matrix's record and, in its V's place, its new factors. (The table stands in for the per-matrix
 * path's U_prev binding, which the batch reads from the V buffer instead.)
 */
export async function srsiBatch(rt: GpuRuntime, a: BatchArgs): Promise<Dispatch> {
  const { first, count } = a.group;
  const table = bindWindow(
    a.table,
    first * SRSI_TABLE_WORDS,
    count * SRSI_TABLE_WORDS,
    rt.limits.minStorageBufferOffsetAlignment,
  );
  const kernel = adapproxKernels.srsi_batch;
  return {
    pipeline: await kernel.pipeline(
      rt,
      'srsi_batch',
      workOverrides(rt, a.group.w, a.workgroup ?? srsiWorkgroup(rt)),
    ),
    uniforms: kernel.pack({ first: table.base, matrices: count }),
    storage: [a.sketch, a.scalars, a.v, table.binding, table.binding],
    workgroups: [count],
  };
}
