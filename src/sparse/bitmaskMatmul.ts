// Y = X·Wᵀ for a bitmask-unstructured W on the GPU (shaders/sparse/bitmaskMatmul.wgsl): a linear
// layer over many tokens (prefill, evaluation) in the layout of linearLayer's dense matmul (X tokens
// × cols, W rows × cols as PyTorch stores it, Y tokens × rows). A workgroup reads its 128 rows' mask
// words and values once for 32 tokens, where bitmaskMatvec token by token reads W once per token.
// Products larger than one binding are split into blocks of tokens and of whole rows of W
// (bitmaskRowBlocks.ts: a block's values are a run of the values array as long as its rows store).

import shader from '../../shaders/sparse/bitmaskMatmul.wgsl?raw';
import { GpuLimitError } from '../gpu/errors';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from '../kernels/kernel';
import { checkDistinct, checkInteger, checkMatrix } from '../kernels/operands';
import { foldGrid } from '../kernels/params';
import { bindWindow, planBlocks, span, windowLimits } from '../kernels/window';
import { bitmaskWordsPerRow } from './bitmaskFormat';
import { bitmaskRowBlocks, bitmaskValuesWindow } from './bitmaskRowBlocks';
import type { BitmaskOnGpu } from './upload';

const bitmaskMatmulKernel = defineKernel({
  name: 'bitmaskMatmul',
  code: shader,
  entryPoints: ['bitmask_matmul'],
  uniforms: {
    tokens: 'u32',
    rows: 'u32',
    cols: 'u32',
    words: 'u32',
    ld_y: 'u32',
    off_m: 'u32',
    off_o: 'u32',
    off_x: 'u32',
    off_y: 'u32',
    off_v: 'u32',
    first_value: 'u32',
    acc: 'u32',
    row_tiles: 'u32',
  },
});

/** Tokens and rows of W per workgroup: the shader's TILE_T and TILE_R. */
const TILE = 32;
const TILE_ROWS = 128;

export interface BitmaskMatmulArgs {
  weights: BitmaskOnGpu;
  /** tokens × cols, row-major, from offsetX. */
  x: GPUBuffer;
  /** tokens × rows, row-major, from offsetY. */
  y: GPUBuffer;
  tokens: number;
  offsetX?: number;
  offsetY?: number;
  /** Y += X·Wᵀ instead of Y = X·Wᵀ. */
  accumulate?: boolean;
}

/**
 * The error bound's multiple of the unit roundoff, relative to Σ|w||x| (plus |Y| when
 * accumulating) per entry of Y, for rows storing at most `stored` values s: one invocation adds the
 * row's products in turn (s − 1 additions), one rounding of each product, one for accumulating onto
 * Y. That is γ_{s+1} = (s + 1)u / (1 − (s + 1)u) ≤ (s + 2)u while (s + 1)(s + 2)u ≤ 1 (s ≤ 4094;
 * first order beyond). No tree and no split of a row: the sum does not depend on the tiling.
 */
export function bitmaskMatmulBound(stored: number): number {
  return Math.max(stored, 1) + 2;
}

/** The most values any row of the matrix stores (from the host's row offsets). */
export function bitmaskMostStored(w: { hostRowOffsets: Uint32Array; rows: number }): number {
  let most = 0;
  for (let r = 0; r < w.rows; r++)
    most = Math.max(most, (w.hostRowOffsets[r + 1] as number) - (w.hostRowOffsets[r] as number));
  return most;
}

/**
 * Tokens per block, and the blocks of W's rows [r0, r1), under the runtime's limits: X's and Y's
 * windows, the mask words and row offsets of a block of rows, and the tiles of one dispatch each fit;
 * then the row blocks are cut again wherever their values would not fit one binding.
 */
export function bitmaskMatmulBlocks(
  rt: GpuRuntime,
  w: BitmaskOnGpu,
  tokens: number,
): { tokens: number; rows: [number, number][] } {
  const capacity = windowLimits(rt.limits).capacity;
  const words = bitmaskWordsPerRow(w.cols);
  if (w.cols > capacity)
    throw new GpuLimitError(
      `bitmaskMatmul: a row of ${w.name} (${w.cols} columns: one token of X) does not fit one storage binding, ` +
        `which holds ${capacity} elements here`,
    );
  const groups = rt.limits.maxComputeWorkgroupsPerDimension;
  const block = planBlocks<'t' | 'r'>(
    { t: tokens, r: w.rows },
    [
      { measure: (b) => span(b.t, w.cols, w.cols), limit: capacity, shrink: ['t'] },
      { measure: (b) => span(b.t, b.r, w.rows), limit: capacity, shrink: ['t', 'r'] },
      { measure: (b) => b.r * words, limit: capacity, shrink: ['r'] },
      { measure: (b) => b.r, limit: capacity, shrink: ['r'] },
      {
        measure: (b) => Math.ceil(b.t / TILE) * Math.ceil(b.r / TILE_ROWS),
        limit: groups * groups,
        shrink: ['t', 'r'],
      },
    ],
    TILE,
  );
  return { tokens: block.t, rows: bitmaskRowBlocks('bitmaskMatmul', w, block.r, capacity) };
}

export async function bitmaskMatmulDispatches(rt: GpuRuntime, args: BitmaskMatmulArgs): Promise<Dispatch[]> {
  const { weights: w, tokens } = args;
  const offsetX = args.offsetX ?? 0;
  const offsetY = args.offsetY ?? 0;
  checkInteger('bitmaskMatmul', 'tokens', tokens, 1);
  checkMatrix('bitmaskMatmul', 'x', args.x, tokens, w.cols, w.cols, offsetX);
  checkMatrix('bitmaskMatmul', 'y', args.y, tokens, w.rows, w.rows, offsetY);
  checkDistinct(
    'bitmaskMatmul',
    ['y', args.y],
    ['x', args.x],
    ['mask', w.mask],
    ['rowOffsets', w.rowOffsets],
    ['values', w.values],
  );
  const pipeline = await bitmaskMatmulKernel.pipeline(rt, 'bitmask_matmul');
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const words = bitmaskWordsPerRow(w.cols);
  const block = bitmaskMatmulBlocks(rt, w, tokens);
  const dispatches: Dispatch[] = [];
  for (let t0 = 0; t0 < tokens; t0 += block.tokens) {
    const t = Math.min(block.tokens, tokens - t0);
    const xw = bindWindow(args.x, offsetX + t0 * w.cols, t * w.cols, align);
    for (const [r0, r1] of block.rows) {
      const r = r1 - r0;
      const { first, count } = bitmaskValuesWindow(w, r0, r1);
      const mw = bindWindow(w.mask, r0 * words, r * words, align);
      const ow = bindWindow(w.rowOffsets, r0, r, align);
      const vw = bindWindow(w.values, first, count, align);
      const yw = bindWindow(args.y, offsetY + t0 * w.rows + r0, span(t, r, w.rows), align);
      const rowTiles = Math.ceil(r / TILE_ROWS);
      dispatches.push({
        pipeline,
        uniforms: bitmaskMatmulKernel.pack({
          tokens: t,
          rows: r,
          cols: w.cols,
          words,
          ld_y: w.rows,
          off_m: mw.base,
          off_o: ow.base,
          off_x: xw.base,
          off_y: yw.base,
          off_v: vw.base,
          first_value: first,
          acc: args.accumulate ? 1 : 0,
          row_tiles: rowTiles,
        }),
        storage: [mw.binding, ow.binding, vw.binding, xw.binding, yw.binding],
        workgroups: foldGrid(rowTiles * Math.ceil(t / TILE), rt.limits.maxComputeWorkgroupsPerDimension),
      });
    }
  }
  return dispatches;
}

export async function bitmaskMatmul(rt: GpuRuntime, args: BitmaskMatmulArgs): Promise<void> {
  rt.submit(await bitmaskMatmulDispatches(rt, args));
}
