// Y = X·Wᵀ for an N:M compressed W on the GPU (shaders/sparse/nmMatmul.wgsl): a linear layer over
// many tokens (prefill, evaluation) in the layout of linearLayer's dense matmul (X tokens × cols,
// W rows × cols as PyTorch stores it, Y tokens × rows). Products larger than one binding are split
// into blocks of tokens and of W's rows whose windows each fit one.

import shader from '../../shaders/sparse/nmMatmul.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from '../kernels/kernel';
import { checkDistinct, checkInteger, checkMatrix } from '../kernels/operands';
import { foldGrid } from '../kernels/params';
import { bindWindow, planBlocks, span, windowLimits } from '../kernels/window';
import { nmConstants } from './nmMatvec';
import type { NmOnGpu } from './upload';

const nmMatmulKernel = defineKernel({
  name: 'nmMatmul',
  code: shader,
  entryPoints: ['nm_matmul'],
  uniforms: {
    tokens: 'u32',
    rows: 'u32',
    cols: 'u32',
    kept: 'u32',
    words: 'u32',
    ld_y: 'u32',
    off_v: 'u32',
    off_i: 'u32',
    off_x: 'u32',
    off_y: 'u32',
    acc: 'u32',
    row_tiles: 'u32',
  },
});

const TILE = 32;

export interface NmMatmulArgs {
  weights: NmOnGpu;
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

/** Tokens and rows of W per dispatch under the runtime's limits. */
export function nmMatmulBlocks(rt: GpuRuntime, w: NmOnGpu, tokens: number): { t: number; r: number } {
  const capacity = windowLimits(rt.limits).capacity;
  const groups = rt.limits.maxComputeWorkgroupsPerDimension;
  return planBlocks<'t' | 'r'>(
    { t: tokens, r: w.rows },
    [
      { measure: (b) => span(b.t, w.cols, w.cols), limit: capacity, shrink: ['t'] },
      { measure: (b) => span(b.t, b.r, w.rows), limit: capacity, shrink: ['t', 'r'] },
      { measure: (b) => b.r * w.kept, limit: capacity, shrink: ['r'] },
      { measure: (b) => b.r * w.words, limit: capacity, shrink: ['r'] },
      {
        measure: (b) => Math.ceil(b.t / TILE) * Math.ceil(b.r / TILE),
        limit: groups * groups,
        shrink: ['t', 'r'],
      },
    ],
    TILE,
  );
}

export async function nmMatmulDispatches(rt: GpuRuntime, args: NmMatmulArgs): Promise<Dispatch[]> {
  const { weights: w, tokens } = args;
  const offsetX = args.offsetX ?? 0;
  const offsetY = args.offsetY ?? 0;
  checkInteger('nmMatmul', 'tokens', tokens, 1);
  checkMatrix('nmMatmul', 'x', args.x, tokens, w.cols, w.cols, offsetX);
  checkMatrix('nmMatmul', 'y', args.y, tokens, w.rows, w.rows, offsetY);
  checkDistinct('nmMatmul', ['y', args.y], ['x', args.x], ['values', w.values], ['indices', w.indices]);
  const pipeline = await nmMatmulKernel.pipeline(rt, 'nm_matmul', nmConstants(w));
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const block = nmMatmulBlocks(rt, w, tokens);
  const dispatches: Dispatch[] = [];
  for (let t0 = 0; t0 < tokens; t0 += block.t) {
    const t = Math.min(block.t, tokens - t0);
    const xw = bindWindow(args.x, offsetX + t0 * w.cols, t * w.cols, align);
    for (let r0 = 0; r0 < w.rows; r0 += block.r) {
      const r = Math.min(block.r, w.rows - r0);
      const vw = bindWindow(w.values, r0 * w.kept, r * w.kept, align);
      const iw = bindWindow(w.indices, r0 * w.words, r * w.words, align);
      const yw = bindWindow(args.y, offsetY + t0 * w.rows + r0, span(t, r, w.rows), align);
      const rowTiles = Math.ceil(r / TILE);
      dispatches.push({
        pipeline,
        uniforms: nmMatmulKernel.pack({
          tokens: t,
          rows: r,
          cols: w.cols,
          kept: w.kept,
          words: w.words,
          ld_y: w.rows,
          off_v: vw.base,
          off_i: iw.base,
          off_x: xw.base,
          off_y: yw.base,
          acc: args.accumulate ? 1 : 0,
          row_tiles: rowTiles,
        }),
        storage: [vw.binding, iw.binding, xw.binding, yw.binding],
        workgroups: foldGrid(rowTiles * Math.ceil(t / TILE), rt.limits.maxComputeWorkgroupsPerDimension),
      });
    }
  }
  return dispatches;
}

export async function nmMatmul(rt: GpuRuntime, args: NmMatmulArgs): Promise<void> {
  rt.submit(await nmMatmulDispatches(rt, args));
}
