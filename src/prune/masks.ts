// Pruning masks and the scores they rank, on the GPU (shaders/prune/masks.wgsl):
//   rowMask          prunes exactly `prune` entries of every row (unstructured pruning, ranked per row;
//                    with rows = 1 and the whole matrix as one row, ranked per matrix),
//   nmMask           keeps exactly n of every m consecutive entries of a row (N:M sparsity),
//   applyKeep        zeroes the pruned weights,
//   magnitudeScores  |W|, and wandaScores |W_ij|·‖X_j‖₂ from the Gram's diagonal.
//
// Masks are u32 buffers, 1 = keep and 0 = prune, and are exact: the GPU only compares scores, so a
// mask is identical to any correct reference's, ties included (the lower column is pruned first).
// Scores must not be NaN: nothing checks for it on the GPU (the pruning job checks its statistics
// for NaN beforehand); a NaN still yields a mask of the right size, but which entries it prunes is
// unspecified. Any other f32 scores are ranked by value (−0 and +0 tie).
//
// Every kernel binds its operands in windows no larger than maxStorageBufferBindingSize and folds
// its grid over two dimensions when a window needs more than maxComputeWorkgroupsPerDimension
// workgroups. rowMask ranks a row in one workgroup, so a row must fit one binding.

import shader from '../../shaders/prune/masks.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from '../kernels/kernel';
import { checkDistinct, checkInteger, checkMatrix } from '../kernels/operands';
import { foldGrid } from '../kernels/params';
import { bindWindow, span, windowCapacity, windowLimits } from '../kernels/window';
import { windowedPassDispatches } from '../kernels/windowedPass';
import { NM_MAX_M } from './options';

// shaders/prune/masks.wgsl's entry points, by uniform block.
const module = { name: 'masks', code: shader } as const;
const rowMaskKernel = defineKernel({
  ...module,
  entryPoints: ['row_mask'],
  uniforms: { rows: 'u32', cols: 'u32', off_scores: 'u32', off_keep: 'u32', prune: 'u32' },
});
const nmMaskKernel = defineKernel({
  ...module,
  entryPoints: ['nm_mask'],
  uniforms: { groups: 'u32', n: 'u32', m: 'u32', off_scores: 'u32', off_keep: 'u32' },
});
const vectorKernel = defineKernel({
  ...module,
  entryPoints: ['apply_keep', 'magnitude', 'wanda_norms'],
  uniforms: { n: 'u32', off_a: 'u32', off_b: 'u32', stride_a: 'u32' },
});
const wandaScoresKernel = defineKernel({
  ...module,
  entryPoints: ['wanda_scores'],
  uniforms: { rows: 'u32', cols: 'u32', ld: 'u32', off_w: 'u32', off_out: 'u32', off_norm: 'u32' },
});

export interface RowMaskArgs {
  /** rows × cols scores, f32, row-major, ≥ 0 (a lower score is pruned first). */
  scores: GPUBuffer;
  rows: number;
  cols: number;
  /** Element offset of the first score. */
  offsetScores?: number;
  /** rows × cols u32 output: 1 = keep, 0 = prune. */
  keep: GPUBuffer;
  /** Element offset of the first mask entry. */
  offsetKeep?: number;
  /** Entries to prune in every row, 0 ≤ prune ≤ cols. */
  prune: number;
}

export interface NmMaskArgs {
  scores: GPUBuffer;
  rows: number;
  cols: number;
  /** Entries kept in every group, 1 ≤ n < m. */
  n: number;
  /** Consecutive columns per group, m ≤ NM_MAX_M; must divide cols. */
  m: number;
  keep: GPUBuffer;
  offsetScores?: number;
  offsetKeep?: number;
}

export interface ApplyKeepArgs {
  w: GPUBuffer;
  keep: GPUBuffer;
  count: number;
  offsetW?: number;
  offsetKeep?: number;
}

export interface MagnitudeScoresArgs {
  w: GPUBuffer;
  count: number;
  out: GPUBuffer;
}

export interface WandaScoresArgs {
  /** rows × cols weights, row-major. */
  w: GPUBuffer;
  /** cols × cols Gram Σ_t x_t x_tᵀ of the operator's inputs; only its diagonal is read. */
  gram: GPUBuffer;
  rows: number;
  cols: number;
  /** rows × cols scores; a different buffer from w and gram. */
  out: GPUBuffer;
}

const GROUP = 256;
const NM_GROUP = 64;

/**
 * Exactly `prune` entries of each row are set to 0: the lowest scores; among equal scores the lower
 * column index is pruned first. One workgroup ranks one row; a row must fit one storage binding.
 */
export async function rowMask(rt: GpuRuntime, args: RowMaskArgs): Promise<void> {
  rt.submit(await rowMaskDispatches(rt, args));
}

export async function rowMaskDispatches(rt: GpuRuntime, args: RowMaskArgs): Promise<Dispatch[]> {
  const { rows, cols, prune } = args;
  const offS = args.offsetScores ?? 0;
  const offK = args.offsetKeep ?? 0;
  checkInteger('rowMask', 'rows', rows);
  checkInteger('rowMask', 'cols', cols);
  checkInteger('rowMask', 'prune', prune);
  if (prune > cols) {
    throw new RangeError(`rowMask: cannot prune ${prune} entries of rows of ${cols}`);
  }
  checkMatrix('rowMask', 'scores', args.scores, rows, cols, cols, offS);
  checkMatrix('rowMask', 'keep', args.keep, rows, cols, cols, offK);
  checkDistinct('rowMask', ['keep', args.keep], ['scores', args.scores]);
  if (rows === 0 || cols === 0) return [];

  const limits = rt.limits;
  const align = limits.minStorageBufferOffsetAlignment;
  const capacity = windowCapacity(limits.maxStorageBufferBindingSize, align);
  if (cols > capacity) {
    // The whole row is ranked by one workgroup, so it cannot be split across bindings.
    throw new RangeError(
      `rowMask: one row of ${cols} scores needs ${cols * 4} bytes in one storage binding, but ` +
        `maxStorageBufferBindingSize is ${limits.maxStorageBufferBindingSize} bytes here ` +
        `(${capacity} elements after alignment slack); ranking per row instead of per matrix ` +
        'keeps each ranked row within the limit',
    );
  }
  const maxGroups = limits.maxComputeWorkgroupsPerDimension;
  const perWindow = Math.min(Math.floor(capacity / cols), maxGroups * maxGroups);
  const pipeline = await rowMaskKernel.pipeline(rt);
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < rows; r0 += perWindow) {
    const rb = Math.min(perWindow, rows - r0);
    const scores = bindWindow(args.scores, offS + r0 * cols, span(rb, cols, cols), align);
    const keep = bindWindow(args.keep, offK + r0 * cols, span(rb, cols, cols), align);
    dispatches.push({
      pipeline,
      uniforms: rowMaskKernel.pack({ rows: rb, cols, off_scores: scores.base, off_keep: keep.base, prune }),
      storage: [scores.binding, keep.binding],
      workgroups: foldGrid(rb, maxGroups),
    });
  }
  return dispatches;
}

/**
 * In every run of m consecutive columns of each row, keep exactly the n highest scores (cols % m
 * === 0 required, else RangeError); among equal scores the lower column index is pruned first.
 */
export async function nmMask(rt: GpuRuntime, args: NmMaskArgs): Promise<void> {
  rt.submit(await nmMaskDispatches(rt, args));
}

export async function nmMaskDispatches(rt: GpuRuntime, args: NmMaskArgs): Promise<Dispatch[]> {
  const { rows, cols, n, m } = args;
  const offS = args.offsetScores ?? 0;
  const offK = args.offsetKeep ?? 0;
  checkInteger('nmMask', 'rows', rows);
  checkInteger('nmMask', 'cols', cols);
  checkInteger('nmMask', 'n', n, 1);
  checkInteger('nmMask', 'm', m, 2);
  if (n >= m) throw new RangeError(`nmMask: N:M needs N < M (N kept of every M), got ${n}:${m}`);
  if (m > NM_MAX_M)
    throw new RangeError(`nmMask: M = ${m} is above the largest supported group, ${NM_MAX_M}`);
  if (cols % m !== 0) {
    throw new RangeError(
      `nmMask: M = ${m} does not divide the ${cols} columns, so groups would straddle rows`,
    );
  }
  checkMatrix('nmMask', 'scores', args.scores, rows, cols, cols, offS);
  checkMatrix('nmMask', 'keep', args.keep, rows, cols, cols, offK);
  checkDistinct('nmMask', ['keep', args.keep], ['scores', args.scores]);
  const total = (rows * cols) / m;
  if (total === 0) return [];

  const limits = rt.limits;
  const align = limits.minStorageBufferOffsetAlignment;
  const maxGroups = limits.maxComputeWorkgroupsPerDimension;
  // Groups never straddle rows, so the matrix is a flat run of groups, windowed by whole groups.
  const perWindow = Math.min(
    Math.floor(windowCapacity(limits.maxStorageBufferBindingSize, align) / m),
    maxGroups * maxGroups * NM_GROUP,
  );
  const pipeline = await nmMaskKernel.pipeline(rt);
  const dispatches: Dispatch[] = [];
  for (let g0 = 0; g0 < total; g0 += perWindow) {
    const gb = Math.min(perWindow, total - g0);
    const scores = bindWindow(args.scores, offS + g0 * m, gb * m, align);
    const keep = bindWindow(args.keep, offK + g0 * m, gb * m, align);
    dispatches.push({
      pipeline,
      uniforms: nmMaskKernel.pack({ groups: gb, n, m, off_scores: scores.base, off_keep: keep.base }),
      storage: [scores.binding, keep.binding],
      workgroups: foldGrid(Math.ceil(gb / NM_GROUP), maxGroups),
    });
  }
  return dispatches;
}

/** w[i] ← keep[i] ? w[i] : 0 for i < count. */
export async function applyKeep(rt: GpuRuntime, args: ApplyKeepArgs): Promise<void> {
  rt.submit(await applyKeepDispatches(rt, args));
}

export async function applyKeepDispatches(rt: GpuRuntime, args: ApplyKeepArgs): Promise<Dispatch[]> {
  const { count } = args;
  const offW = args.offsetW ?? 0;
  const offK = args.offsetKeep ?? 0;
  checkInteger('applyKeep', 'count', count);
  checkMatrix('applyKeep', 'w', args.w, 1, count, count, offW);
  checkMatrix('applyKeep', 'keep', args.keep, 1, count, count, offK);
  checkDistinct('applyKeep', ['w', args.w], ['keep', args.keep]);
  return vectorDispatches(rt, 'apply_keep', count, [args.w, offW, 1], [args.keep, offK]);
}

/** out[i] = |w[i]| (magnitude pruning's score). */
export async function magnitudeScores(rt: GpuRuntime, args: MagnitudeScoresArgs): Promise<void> {
  rt.submit(await magnitudeScoresDispatches(rt, args));
}

export async function magnitudeScoresDispatches(
  rt: GpuRuntime,
  args: MagnitudeScoresArgs,
): Promise<Dispatch[]> {
  const { count } = args;
  checkInteger('magnitudeScores', 'count', count);
  checkMatrix('magnitudeScores', 'w', args.w, 1, count, count, 0);
  checkMatrix('magnitudeScores', 'out', args.out, 1, count, count, 0);
  checkDistinct('magnitudeScores', ['out', args.out], ['w', args.w]);
  return vectorDispatches(rt, 'magnitude', count, [args.w, 0, 1], [args.out, 0]);
}

/**
 * out[i,j] = |w[i,j]| · sqrt(max(G[j,j], 0)) where G is the cols × cols Gram Σ_t x_t x_tᵀ of the
 * operator's inputs (Wanda's score |W_ij|·‖X_j‖₂). The column norms go through a scratch buffer of
 * cols floats, freed once the work is submitted.
 */
export async function wandaScores(rt: GpuRuntime, args: WandaScoresArgs): Promise<void> {
  const { rows, cols } = args;
  checkInteger('wandaScores', 'rows', rows);
  checkInteger('wandaScores', 'cols', cols);
  checkMatrix('wandaScores', 'w', args.w, rows, cols, cols, 0);
  checkMatrix('wandaScores', 'gram', args.gram, cols, cols, cols, 0);
  checkMatrix('wandaScores', 'out', args.out, rows, cols, cols, 0);
  checkDistinct('wandaScores', ['out', args.out], ['w', args.w], ['gram', args.gram]);
  if (rows === 0 || cols === 0) return;

  const norms = await rt.createBuffer('wanda column norms', 'scratch', cols * 4);
  try {
    // The diagonal G[j, j] lies cols + 1 elements apart.
    const dispatches = await vectorDispatches(
      rt,
      'wanda_norms',
      cols,
      [args.gram, 0, cols + 1],
      [norms.buffer, 0],
    );
    const { align, capacity, maxGroups } = windowLimits(rt.limits);
    // Blocks of whole rows when a row fits a binding, else single rows split into column blocks.
    const cb = Math.min(cols, capacity);
    const rb = Math.max(
      1,
      Math.min(1 + Math.floor((capacity - cb) / cols), Math.floor((maxGroups * maxGroups * GROUP) / cb)),
    );
    const pipeline = await wandaScoresKernel.pipeline(rt);
    for (let r0 = 0; r0 < rows; r0 += rb) {
      const rn = Math.min(rb, rows - r0);
      for (let c0 = 0; c0 < cols; c0 += cb) {
        const cn = Math.min(cb, cols - c0);
        const w = bindWindow(args.w, r0 * cols + c0, span(rn, cn, cols), align);
        const norm = bindWindow(norms.buffer, c0, cn, align);
        const out = bindWindow(args.out, r0 * cols + c0, span(rn, cn, cols), align);
        dispatches.push({
          pipeline,
          uniforms: wandaScoresKernel.pack({
            rows: rn,
            cols: cn,
            ld: cols,
            off_w: w.base,
            off_out: out.base,
            off_norm: norm.base,
          }),
          storage: [w.binding, norm.binding, out.binding],
          workgroups: foldGrid(Math.ceil((rn * cn) / GROUP), maxGroups),
        });
      }
    }
    rt.submit(dispatches);
  } finally {
    // Deferred by the ledger until the recorded work is submitted.
    norms.destroy();
  }
}

/**
 * One invocation per element of a vector kernel (kernels/windowedPass.ts): a is read with a stride
 * (elements apart; 1 but for the Gram's diagonal), b is contiguous.
 */
async function vectorDispatches(
  rt: GpuRuntime,
  entryPoint: 'apply_keep' | 'magnitude' | 'wanda_norms',
  count: number,
  [a, offA, strideA]: [GPUBuffer, number, number],
  [b, offB]: [GPUBuffer, number],
): Promise<Dispatch[]> {
  const pipeline = await vectorKernel.pipeline(rt, entryPoint);
  return windowedPassDispatches(rt, {
    name: `masks/${entryPoint}`,
    pipeline,
    count,
    operands: [
      { buffer: a, offset: offA, stride: strideA },
      { buffer: b, offset: offB },
    ],
    block: GROUP,
    uniforms: ({ count: k, bases }) =>
      vectorKernel.pack({ n: k, off_a: bases[0] ?? 0, off_b: bases[1] ?? 0, stride_a: strideA }),
  });
}
