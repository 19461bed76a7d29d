// LayerNorm (GPT-2, OPT) and RMSNorm (Llama) over the rows of a rows × width matrix: one workgroup
// per row on a GPU (norm.wgsl, which explains the two-pass variance), one invocation per row on a CPU
// adapter (normRow.wgsl; the choice is normKernel.ts's). Rows are bound in windows of as many whole rows
// as one storage binding holds; a single row wider than a binding cannot be split (the row's
// statistics need all of it) and is a GpuLimitError. In-place use is not supported: x and y are
// different buffers.

import shader from '../../shaders/kernels/norm.wgsl?raw';
import rowShader from '../../shaders/kernels/normRow.wgsl?raw';
import shared from '../../shaders/kernels/normShared.wgsl?raw';
import type { Binding, Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { chooseNormKernel, NORM_ROW_GROUP, type NormKernel } from './normKernel';
import { checkDistinct, checkFinite, checkInteger, checkMatrix, rowsPerWindow } from './operands';
import { foldGrid } from './params';
import { bindWindow, span, windowCapacity } from './window';

const uniforms = {
  rows: 'u32',
  width: 'u32',
  ld_x: 'u32',
  ld_y: 'u32',
  off_x: 'u32',
  off_y: 'u32',
  off_g: 'u32',
  off_b: 'u32',
  eps: 'f32',
} as const;
const entryPoints = ['layer_norm', 'rms_norm'] as const;

// The two kernels take the same uniform block and bindings, so one packing serves either.
const normKernels = {
  workgroup: defineKernel({ name: 'norm', code: shared + shader, entryPoints, uniforms }),
  row: defineKernel({ name: 'norm row', code: shared + rowShader, entryPoints, uniforms }),
};

export type NormKind = 'layer' | 'rms';

export interface NormArgs {
  kind: NormKind;
  x: GPUBuffer;
  y: GPUBuffer;
  /** The gain g (width elements). */
  weight: GPUBuffer;
  /** The bias b (width elements): required for LayerNorm, absent for RMSNorm. */
  bias?: GPUBuffer;
  rows: number;
  width: number;
  /** Added to the variance (LayerNorm) or the mean square (RMSNorm). Default 1e-5. */
  eps?: number;
  ldX?: number;
  ldY?: number;
  offsetX?: number;
  offsetY?: number;
  offsetWeight?: number;
  offsetBias?: number;
  /** Which kernel runs it; default the adapter's (normKernel.ts, chooseNormKernel). */
  kernel?: NormKernel;
}

export async function norm(rt: GpuRuntime, args: NormArgs): Promise<void> {
  rt.submit(await normDispatches(rt, args));
}

export async function normDispatches(rt: GpuRuntime, args: NormArgs): Promise<Dispatch[]> {
  const { kind, rows, width } = args;
  const kernel = kind === 'layer' ? 'layerNorm' : 'rmsNorm';
  const ldX = args.ldX ?? width;
  const ldY = args.ldY ?? width;
  const offX = args.offsetX ?? 0;
  const offY = args.offsetY ?? 0;
  const offG = args.offsetWeight ?? 0;
  const offB = args.offsetBias ?? 0;
  const eps = args.eps ?? 1e-5;
  if (kind !== 'layer' && kind !== 'rms')
    throw new RangeError(`norm: kind must be 'layer' or 'rms', got ${kind}`);
  checkInteger(kernel, 'rows', rows);
  checkInteger(kernel, 'width', width, 1);
  checkFinite(kernel, 'eps', eps);
  if (eps < 0) throw new RangeError(`${kernel}: eps must be ≥ 0, got ${eps}`);
  checkMatrix(kernel, 'x', args.x, rows, width, ldX, offX);
  checkMatrix(kernel, 'y', args.y, rows, width, ldY, offY);
  checkMatrix(kernel, 'weight', args.weight, 1, width, width, offG);
  const read: [string, GPUBuffer][] = [
    ['x', args.x],
    ['weight', args.weight],
  ];
  if (kind === 'layer') {
    if (!args.bias) throw new RangeError('layerNorm: bias is required (width elements)');
    checkMatrix(kernel, 'bias', args.bias, 1, width, width, offB);
    read.push(['bias', args.bias]);
  } else if (args.bias) {
    throw new RangeError('rmsNorm: takes no bias');
  }
  checkDistinct(kernel, ['y', args.y], ...read);
  const choice = args.kernel ?? chooseNormKernel(rt);
  const normKernel = normKernels[choice];
  if (!normKernel)
    throw new RangeError(`${kernel}: no kernel named ${choice} (${Object.keys(normKernels).join(', ')})`);
  if (rows === 0) return [];

  const limits = rt.limits;
  const align = limits.minStorageBufferOffsetAlignment;
  const capacity = windowCapacity(limits.maxStorageBufferBindingSize, align);
  const maxGroups = limits.maxComputeWorkgroupsPerDimension;
  // A workgroup per row, or an invocation per row in workgroups of NORM_ROW_GROUP.
  const rowsPerGroup = choice === 'row' ? NORM_ROW_GROUP : 1;
  const perWindow = Math.min(
    rowsPerWindow(kernel, 'row', capacity, width, ldX),
    rowsPerWindow(kernel, 'row', capacity, width, ldY),
    maxGroups * maxGroups * rowsPerGroup,
  );
  const entry = kind === 'layer' ? 'layer_norm' : 'rms_norm';
  const pipeline =
    choice === 'row'
      ? await normKernel.pipeline(rt, entry)
      : await normKernel.pipeline(rt, entry, { GROUP: normGroupSize(width) });
  const g = bindWindow(args.weight, offG, width, align);
  const b = kind === 'layer' ? bindWindow(args.bias as GPUBuffer, offB, width, align) : undefined;
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < rows; r0 += perWindow) {
    const rb = Math.min(perWindow, rows - r0);
    const x = bindWindow(args.x, offX + r0 * ldX, span(rb, width, ldX), align);
    const y = bindWindow(args.y, offY + r0 * ldY, span(rb, width, ldY), align);
    const storage: Binding[] = b
      ? [x.binding, g.binding, b.binding, y.binding]
      : [x.binding, g.binding, y.binding];
    dispatches.push({
      pipeline,
      uniforms: normKernel.pack({
        rows: rb,
        width,
        ld_x: ldX,
        ld_y: ldY,
        off_x: x.base,
        off_y: y.base,
        off_g: g.base,
        off_b: b?.base ?? 0,
        eps,
      }),
      storage,
      workgroups: foldGrid(Math.ceil(rb / rowsPerGroup), maxGroups),
    });
  }
  return dispatches;
}

/** Invocations per row: the power of two ≥ width/4, at most 256 (each sums ≤ 4 elements serially until 1024). */
export function normGroupSize(width: number): number {
  return Math.min(256, 2 ** Math.ceil(Math.log2(Math.max(1, width / 4))));
}
