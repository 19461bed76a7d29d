// out = inᵀ for a rows × cols row-major matrix (leading dimensions ldIn ≥ cols, ldOut ≥ rows).
// Matrices larger than one binding are transposed block by block.

import shader from '../../shaders/kernels/transpose.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { foldGrid } from './params';
import { bindWindow, planBlocks, span, windowLimits } from './window';

const kernel = defineKernel({
  name: 'transpose',
  code: shader,
  uniforms: {
    rows: 'u32',
    cols: 'u32',
    ld_in: 'u32',
    ld_out: 'u32',
    off_in: 'u32',
    off_out: 'u32',
    tiles_c: 'u32',
  },
});

const TILE = 16;

export interface TransposeArgs {
  input: GPUBuffer;
  output: GPUBuffer;
  rows: number;
  cols: number;
  ldIn?: number;
  ldOut?: number;
  offsetIn?: number;
  offsetOut?: number;
}

export async function transpose(rt: GpuRuntime, args: TransposeArgs): Promise<void> {
  const { rows, cols } = args;
  const ldIn = args.ldIn ?? cols;
  const ldOut = args.ldOut ?? rows;
  const offIn = args.offsetIn ?? 0;
  const offOut = args.offsetOut ?? 0;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`transpose: shape ${rows}×${cols} is invalid`);
  }
  if (ldIn < cols || ldOut < rows)
    throw new RangeError('transpose: a leading dimension is smaller than its row');
  if ((offIn + span(rows, cols, ldIn)) * 4 > args.input.size) {
    throw new RangeError(`transpose: a ${rows}×${cols} input overruns "${args.input.label}"`);
  }
  if ((offOut + span(cols, rows, ldOut)) * 4 > args.output.size) {
    throw new RangeError(`transpose: a ${cols}×${rows} output overruns "${args.output.label}"`);
  }
  if (rows === 0 || cols === 0) return;

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const block = planBlocks<'r' | 'c'>(
    { r: rows, c: cols },
    [
      { measure: (b) => span(b.r, b.c, ldIn), limit: capacity, shrink: ['r', 'c'] },
      { measure: (b) => span(b.c, b.r, ldOut), limit: capacity, shrink: ['c', 'r'] },
      {
        measure: (b) => Math.ceil(b.r / TILE) * Math.ceil(b.c / TILE),
        limit: maxGroups * maxGroups,
        shrink: ['r', 'c'],
      },
    ],
    TILE,
  );
  const pipeline = await kernel.pipeline(rt);
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < rows; r0 += block.r) {
    const rb = Math.min(block.r, rows - r0);
    for (let c0 = 0; c0 < cols; c0 += block.c) {
      const cb = Math.min(block.c, cols - c0);
      const input = bindWindow(args.input, offIn + r0 * ldIn + c0, span(rb, cb, ldIn), align);
      const output = bindWindow(args.output, offOut + c0 * ldOut + r0, span(cb, rb, ldOut), align);
      const tilesC = Math.ceil(cb / TILE);
      dispatches.push({
        pipeline,
        uniforms: kernel.pack({
          rows: rb,
          cols: cb,
          ld_in: ldIn,
          ld_out: ldOut,
          off_in: input.base,
          off_out: output.base,
          tiles_c: tilesC,
        }),
        storage: [input.binding, output.binding],
        workgroups: foldGrid(Math.ceil(rb / TILE) * tilesC, maxGroups),
      });
    }
  }
  rt.submit(dispatches);
}
