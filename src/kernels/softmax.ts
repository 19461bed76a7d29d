// Row-wise softmax in place with a scale and an optional causal mask, for attention scores that a
// matmul has materialised. Rows are bound in windows of whole rows.

import shader from '../../shaders/kernels/softmax.wgsl?raw';
import type { GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { checkInteger, checkMatrix, rowsPerWindow } from './operands';
import { foldGrid } from './params';
import { bindWindow, span, windowLimits } from './window';

const softmaxKernel = defineKernel({
  name: 'softmax',
  code: shader,
  uniforms: {
    rows: 'u32',
    cols: 'u32',
    ld: 'u32',
    offset: 'u32',
    first_row: 'u32',
    causal: 'u32',
    scale: 'f32',
  },
});

export interface SoftmaxArgs {
  x: GPUBuffer;
  rows: number;
  cols: number;
  ld?: number;
  offset?: number;
  /** Multiplies x before the softmax. Default 1. */
  scale?: number;
  /** Row r is query firstRow + r and sees columns 0..firstRow + r only. */
  causal?: boolean;
  firstRow?: number;
}

export async function softmax(rt: GpuRuntime, args: SoftmaxArgs): Promise<void> {
  const { rows, cols } = args;
  const ld = args.ld ?? cols;
  const offset = args.offset ?? 0;
  const firstRow = args.firstRow ?? 0;
  const kernel = 'softmax';
  checkInteger(kernel, 'rows', rows);
  checkInteger(kernel, 'cols', cols, 1);
  checkInteger(kernel, 'firstRow', firstRow);
  checkMatrix(kernel, 'x', args.x, rows, cols, ld, offset);
  if (rows === 0) return;
  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const perWindow = Math.min(rowsPerWindow(kernel, 'row', capacity, cols, ld), maxGroups * maxGroups);
  // Each invocation handles about four columns; 64 invocations at most per row.
  const group = Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, cols / 4))));
  const pipeline = await softmaxKernel.pipeline(rt, 'main', { GROUP: group });
  const dispatches = [];
  for (let r0 = 0; r0 < rows; r0 += perWindow) {
    const rb = Math.min(perWindow, rows - r0);
    const w = bindWindow(args.x, offset + r0 * ld, span(rb, cols, ld), align);
    dispatches.push({
      pipeline,
      uniforms: softmaxKernel.pack({
        rows: rb,
        cols,
        ld,
        offset: w.base,
        first_row: firstRow + r0,
        causal: args.causal ? 1 : 0,
        scale: args.scale ?? 1,
      }),
      storage: [w.binding],
      workgroups: foldGrid(rb, maxGroups),
    });
  }
  rt.submit(dispatches);
}
