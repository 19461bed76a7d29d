// Backward of LayerNorm and RMSNorm (kernels/norm.ts): dx is added into an existing gradient (the
// residual stream's gradient is the sum of its paths), and the gain and bias gradients are column
// sums over the tokens, computed deterministically in chunks (see normBackward.wgsl and
// columnSum.ts). The row statistics are recomputed from x as the forward computes them rather than
// saved by it, so the forward kernels stay as they are; this pass saves them (8 bytes a row) only
// for the gain pass that follows it.
//
// Rows are bound in windows of whole rows, as in the forward; a row wider than one binding cannot
// be split (its statistics need all of it) and is a GpuLimitError.

import shader from '../../../shaders/train/backward/normBackward.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import { defineKernel } from '../../kernels/kernel';
import { type NormKind, normGroupSize } from '../../kernels/norm';
import { checkDistinct, checkFinite, checkInteger, checkMatrix, rowsPerWindow } from '../../kernels/operands';
import { foldGrid } from '../../kernels/params';
import { bindWindow, planBlocks, span, windowLimits } from '../../kernels/window';
import { columnSum, sumChunk } from './columnSum';
import type { BackwardPlacement } from './linearBackward';

const normBackwardKernel = defineKernel({
  name: 'normBackward',
  code: shader,
  entryPoints: ['row_backward', 'gain_partials_layer', 'gain_partials_rms'],
  uniforms: {
    rows: 'u32',
    width: 'u32',
    ld_x: 'u32',
    ld_dy: 'u32',
    ld_dx: 'u32',
    off_x: 'u32',
    off_dy: 'u32',
    off_dx: 'u32',
    off_g: 'u32',
    off_stats: 'u32',
    eps: 'f32',
    chunk: 'u32',
    chunks: 'u32',
    col_groups: 'u32',
    off_partials: 'u32',
  },
});

export interface NormBackwardArgs extends BackwardPlacement {
  kind: NormKind;
  /** The forward's input, rows × width. */
  x: GPUBuffer;
  /** The gain g (width elements). */
  weight: GPUBuffer;
  /** The gradient of the forward's output, rows × width. */
  dy: GPUBuffer;
  /** rows × width: dx += the input gradient (dx = with accumulateInput false). */
  dx: GPUBuffer;
  /** width elements; computed when given. */
  dWeight?: GPUBuffer;
  /** width elements, LayerNorm only; computed when given. */
  dBias?: GPUBuffer;
  rows: number;
  width: number;
  /** As in the forward. Default 1e-5. */
  eps?: number;
  /** Default true: dx += …. */
  accumulateInput?: boolean;
  /** Default false: dWeight = …, dBias = …. */
  accumulateParams?: boolean;
}

export async function normBackward(rt: GpuRuntime, args: NormBackwardArgs): Promise<void> {
  const { kind, rows, width } = args;
  const kernel = kind === 'layer' ? 'layerNormBackward' : 'rmsNormBackward';
  if (kind !== 'layer' && kind !== 'rms') {
    throw new RangeError(`normBackward: kind must be 'layer' or 'rms', got ${kind}`);
  }
  const ldX = args.ldX ?? width;
  const ldDy = args.ldDy ?? width;
  const ldDx = args.ldDx ?? width;
  const offX = args.offsetX ?? 0;
  const offDy = args.offsetDy ?? 0;
  const offDx = args.offsetDx ?? 0;
  const offG = args.offsetWeight ?? 0;
  const eps = args.eps ?? 1e-5;
  checkInteger(kernel, 'rows', rows);
  checkInteger(kernel, 'width', width, 1);
  checkFinite(kernel, 'eps', eps);
  if (eps < 0) throw new RangeError(`${kernel}: eps must be ≥ 0, got ${eps}`);
  checkMatrix(kernel, 'x', args.x, rows, width, ldX, offX);
  checkMatrix(kernel, 'dy', args.dy, rows, width, ldDy, offDy);
  checkMatrix(kernel, 'dx', args.dx, rows, width, ldDx, offDx);
  checkMatrix(kernel, 'weight', args.weight, 1, width, width, offG);
  checkDistinct(kernel, ['dx', args.dx], ['x', args.x], ['dy', args.dy], ['weight', args.weight]);
  if (args.dWeight) {
    checkMatrix(kernel, 'dWeight', args.dWeight, 1, width, width, args.offsetDWeight ?? 0);
    checkDistinct(kernel, ['dWeight', args.dWeight], ['dx', args.dx]);
  }
  if (args.dBias) {
    if (kind !== 'layer') throw new RangeError('rmsNormBackward: RMSNorm has no bias to differentiate');
    checkMatrix(kernel, 'dBias', args.dBias, 1, width, width, args.offsetDBias ?? 0);
    checkDistinct(
      kernel,
      ['dBias', args.dBias],
      ['dx', args.dx],
      ...(args.dWeight ? [['dWeight', args.dWeight] as [string, GPUBuffer]] : []),
    );
  }
  if (rows === 0) {
    // No tokens: zero parameter gradients (unless accumulating), nothing else.
    for (const [buffer, offset] of [
      [args.dWeight, args.offsetDWeight ?? 0],
      [args.dBias, args.offsetDBias ?? 0],
    ] as const) {
      if (buffer && !args.accumulateParams) rt.write(buffer, new Float32Array(width), offset * 4);
    }
    return;
  }

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const layer = kind === 'layer';
  const stats = await rt.createBuffer(`${kernel} row statistics`, 'scratch', rows * 2 * 4);
  const scratch = [stats];
  try {
    // Pass 1: dx, and (μ, r) per row.
    const perWindow = Math.min(
      rowsPerWindow(kernel, 'row', capacity, width, ldX),
      rowsPerWindow(kernel, 'row', capacity, width, ldDy),
      rowsPerWindow(kernel, 'row', capacity, width, ldDx),
      Math.floor(capacity / 2),
      maxGroups * maxGroups,
    );
    const rowPipeline = await normBackwardKernel.pipeline(rt, 'row_backward', {
      GROUP: normGroupSize(width),
      LAYER: Number(layer),
      ACCUMULATE: Number(args.accumulateInput ?? true),
    });
    const g = bindWindow(args.weight, offG, width, align);
    const dispatches: Dispatch[] = [];
    for (let r0 = 0; r0 < rows; r0 += perWindow) {
      const rb = Math.min(perWindow, rows - r0);
      const x = bindWindow(args.x, offX + r0 * ldX, span(rb, width, ldX), align);
      const dy = bindWindow(args.dy, offDy + r0 * ldDy, span(rb, width, ldDy), align);
      const dx = bindWindow(args.dx, offDx + r0 * ldDx, span(rb, width, ldDx), align);
      const st = bindWindow(stats.buffer, 2 * r0, 2 * rb, align);
      dispatches.push({
        pipeline: rowPipeline,
        uniforms: params(rb, width, ldX, ldDy, ldDx, x.base, dy.base, dx.base, g.base, st.base, eps),
        storage: [x.binding, g.binding, dy.binding, dx.binding, st.binding],
        workgroups: foldGrid(rb, maxGroups),
      });
    }
    rt.submit(dispatches);
    if (!args.dWeight && !args.dBias) return;

    // Pass 2: chunk sums of dy ⊙ x̂ (and dy), then their column sums into dWeight (and dBias).
    let chunk = sumChunk(rows);
    const block = planBlocks<'r'>(
      { r: rows },
      [
        { measure: (b) => span(b.r, width, ldX), limit: capacity, shrink: ['r'] },
        { measure: (b) => span(b.r, width, ldDy), limit: capacity, shrink: ['r'] },
        { measure: (b) => 2 * b.r, limit: capacity, shrink: ['r'] },
        { measure: (b) => Math.ceil(b.r / chunk) * width, limit: capacity, shrink: ['r'] },
        {
          measure: (b) => Math.ceil(width / 64) * Math.ceil(b.r / chunk),
          limit: maxGroups * maxGroups,
          shrink: ['r'],
        },
      ],
      chunk,
    );
    if (block.r < chunk) chunk = block.r;
    const chunks = Math.ceil(rows / chunk);
    const partialsG = await rt.createBuffer(`${kernel} gain partials`, 'scratch', chunks * width * 4);
    scratch.push(partialsG);
    const partialsB = layer
      ? await rt.createBuffer(`${kernel} bias partials`, 'scratch', chunks * width * 4)
      : undefined;
    if (partialsB) scratch.push(partialsB);
    const gainPipeline = await normBackwardKernel.pipeline(
      rt,
      layer ? 'gain_partials_layer' : 'gain_partials_rms',
    );
    const colGroups = Math.ceil(width / 64);
    const gainDispatches: Dispatch[] = [];
    for (let r0 = 0; r0 < rows; r0 += block.r) {
      const rb = Math.min(block.r, rows - r0);
      const windowChunks = Math.ceil(rb / chunk);
      const x = bindWindow(args.x, offX + r0 * ldX, span(rb, width, ldX), align);
      const dy = bindWindow(args.dy, offDy + r0 * ldDy, span(rb, width, ldDy), align);
      const st = bindWindow(stats.buffer, 2 * r0, 2 * rb, align);
      const first = (r0 / chunk) * width;
      const pg = bindWindow(partialsG.buffer, first, windowChunks * width, align);
      const storage = [x.binding, dy.binding, st.binding, pg.binding];
      if (partialsB) storage.push(bindWindow(partialsB.buffer, first, windowChunks * width, align).binding);
      gainDispatches.push({
        pipeline: gainPipeline,
        uniforms: params(rb, width, ldX, ldDy, 0, x.base, dy.base, 0, 0, st.base, eps, {
          chunk,
          chunks: windowChunks,
          colGroups,
          // Both partial windows start at the same element, so they share one base.
          partials: pg.base,
        }),
        storage,
        workgroups: foldGrid(colGroups * windowChunks, maxGroups),
      });
    }
    rt.submit(gainDispatches);
    // Each parameter's gradient is the column sum of its per-chunk partials.
    const accumulate = args.accumulateParams ?? false;
    const sumPartials = (partials: GPUBuffer, out: GPUBuffer, offsetOut = 0) =>
      columnSum(rt, { x: partials, rows: chunks, cols: width, out, offsetOut, accumulate });
    if (args.dWeight) await sumPartials(partialsG.buffer, args.dWeight, args.offsetDWeight);
    if (args.dBias && partialsB) await sumPartials(partialsB.buffer, args.dBias, args.offsetDBias);
  } finally {
    // Deferred by the ledger until the recorded work is submitted.
    for (const s of scratch) s.destroy();
  }
}

function params(
  rows: number,
  width: number,
  ldX: number,
  ldDy: number,
  ldDx: number,
  offX: number,
  offDy: number,
  offDx: number,
  offG: number,
  offStats: number,
  eps: number,
  gain = { chunk: 0, chunks: 0, colGroups: 0, partials: 0 },
): ArrayBuffer {
  return normBackwardKernel.pack({
    rows,
    width,
    ld_x: ldX,
    ld_dy: ldDy,
    ld_dx: ldDx,
    off_x: offX,
    off_dy: offDy,
    off_dx: offDx,
    off_g: offG,
    off_stats: offStats,
    eps,
    chunk: gain.chunk,
    chunks: gain.chunks,
    col_groups: gain.colGroups,
    off_partials: gain.partials,
  });
}
