// The MLP activations of GPT-2 (GELU tanh approximation, "gelu_new"), OPT (ReLU), BERT-style exact
// GELU, and Llama (SiLU inside SwiGLU: out = silu(a) · b with a = w1 x, b = w3 x), plus the
// row-broadcast bias add of GPT-2's and OPT's Linear layers. All work on a rows × cols block with a
// leading dimension per operand, so an operand may be a column block of a wider matrix (one half of
// a fused gate/up product). Blocks larger than one storage binding are processed in windows.

import shader from '../../shaders/kernels/activation.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel, type Kernel } from './kernel';
import { checkInteger, checkMatrix } from './operands';
import { foldGrid } from './params';
import { bindWindow, planBlocks, span, windowLimits } from './window';

/**
 * activation.wgsl's Params: a rows × cols block and the leading dimension and offset of operands a,
 * b and y. The backward's entry points (train/backward/activationBackward.ts), compiled in one
 * module with this file, read the same block.
 */
export const ACTIVATION_UNIFORMS = {
  rows: 'u32',
  cols: 'u32',
  ld_a: 'u32',
  ld_b: 'u32',
  ld_y: 'u32',
  off_a: 'u32',
  off_b: 'u32',
  off_y: 'u32',
} as const;

const activationKernel = defineKernel({
  name: 'activation',
  code: shader,
  entryPoints: ['map', 'map_inplace', 'gated', 'gated_inplace', 'bias_add'],
  uniforms: ACTIVATION_UNIFORMS,
});

export type ActivationFn = 'gelu' | 'gelu_tanh' | 'relu' | 'silu';

/** The FN override of activation.wgsl. */
const FN_CODE: Record<ActivationFn, number> = { gelu: 0, gelu_tanh: 1, relu: 2, silu: 3 };

/** A rows × cols block of a row-major matrix: rows ld apart (default cols), from an element offset. */
export interface MatrixRef {
  buffer: GPUBuffer;
  ld?: number;
  offset?: number;
}

export interface ActivationArgs {
  fn: ActivationFn;
  rows: number;
  cols: number;
  x: MatrixRef;
  /** Where f(x) goes; omitted, x is overwritten. */
  y?: MatrixRef;
}

export interface GatedArgs {
  /** 'silu' for SwiGLU, 'gelu' / 'gelu_tanh' for GeGLU. */
  fn: ActivationFn;
  rows: number;
  cols: number;
  a: MatrixRef;
  b: MatrixRef;
  /** Where f(a) · b goes; omitted, a is overwritten. */
  out?: MatrixRef;
}

export interface BiasAddArgs {
  rows: number;
  cols: number;
  /** y[r, :] += bias[:] in place. */
  y: MatrixRef;
  /** cols elements. */
  bias: GPUBuffer;
  offsetBias?: number;
}

export async function activation(rt: GpuRuntime, args: ActivationArgs): Promise<void> {
  rt.submit(await activationDispatches(rt, args));
}

export async function activationDispatches(rt: GpuRuntime, args: ActivationArgs): Promise<Dispatch[]> {
  const kernel = `activation ${args.fn}`;
  const fn = activationFnCode(kernel, args.fn);
  const x = activationOperand('a', 'x', args.x, args.cols);
  const y = args.y && activationOperand('y', 'y', args.y, args.cols);
  if (!y || sameBlock(x, y)) {
    return activationBlockDispatches(rt, activationKernel, kernel, 'map_inplace', fn, args, [x]);
  }
  if (y.buffer === x.buffer) throw aliasError(kernel, 'y', 'x');
  return activationBlockDispatches(rt, activationKernel, kernel, 'map', fn, args, [x, y]);
}

/** out = f(a) · b; swiglu is fn = 'silu'. */
export async function gatedActivation(rt: GpuRuntime, args: GatedArgs): Promise<void> {
  rt.submit(await gatedActivationDispatches(rt, args));
}

export async function swiglu(rt: GpuRuntime, args: Omit<GatedArgs, 'fn'>): Promise<void> {
  await gatedActivation(rt, { ...args, fn: 'silu' });
}

export async function gatedActivationDispatches(rt: GpuRuntime, args: GatedArgs): Promise<Dispatch[]> {
  const kernel = `gated ${args.fn}`;
  const fn = activationFnCode(kernel, args.fn);
  const a = activationOperand('a', 'a', args.a, args.cols);
  const b = activationOperand('b', 'b', args.b, args.cols);
  const out = args.out && activationOperand('y', 'out', args.out, args.cols);
  if (!out || sameBlock(a, out)) {
    if (b.buffer === a.buffer) throw aliasError(kernel, 'out (in place in a)', 'b');
    return activationBlockDispatches(rt, activationKernel, kernel, 'gated_inplace', fn, args, [a, b]);
  }
  if (out.buffer === a.buffer) throw aliasError(kernel, 'out', 'a');
  if (out.buffer === b.buffer) throw aliasError(kernel, 'out', 'b');
  return activationBlockDispatches(rt, activationKernel, kernel, 'gated', fn, args, [a, b, out]);
}

export async function biasAdd(rt: GpuRuntime, args: BiasAddArgs): Promise<void> {
  rt.submit(await biasAddDispatches(rt, args));
}

export async function biasAddDispatches(rt: GpuRuntime, args: BiasAddArgs): Promise<Dispatch[]> {
  const kernel = 'biasAdd';
  const bias: ActivationOperand = {
    slot: 'a',
    name: 'bias',
    buffer: args.bias,
    ld: args.cols,
    offset: args.offsetBias ?? 0,
    broadcast: true,
  };
  const y = activationOperand('y', 'y', args.y, args.cols);
  if (y.buffer === bias.buffer) throw aliasError(kernel, 'y', 'bias');
  return activationBlockDispatches(rt, activationKernel, kernel, 'bias_add', FN_CODE.gelu, args, [bias, y]);
}

/** Which of the block's operands (ld_a/off_a, ld_b/off_b, ld_y/off_y) an operand binds as. */
type Slot = 'a' | 'b' | 'y';

/** One operand of an activation.wgsl-style entry point: its slot, a name for errors, where it is. */
export interface ActivationOperand {
  slot: Slot;
  name: string;
  buffer: GPUBuffer;
  ld: number;
  offset: number;
  /** One row of cols elements shared by every row. */
  broadcast?: boolean;
}

export function activationOperand(slot: Slot, name: string, ref: MatrixRef, cols: number): ActivationOperand {
  return { slot, name, buffer: ref.buffer, ld: ref.ld ?? cols, offset: ref.offset ?? 0 };
}

/** Whether two operands are the same block of the same buffer (an in-place call). */
export function sameBlock(x: ActivationOperand, y: ActivationOperand): boolean {
  return x.buffer === y.buffer && x.offset === y.offset && x.ld === y.ld;
}

function aliasError(kernel: string, written: string, read: string): RangeError {
  return new RangeError(
    `${kernel}: ${written} shares a buffer with ${read} without being the same block; WebGPU cannot bind ` +
      'one buffer for writing and reading in a dispatch, so use separate buffers or write in place',
  );
}

/** The FN override of activation.wgsl for `fn`; throws naming `kernel` for an unknown function. */
export function activationFnCode(kernel: string, fn: ActivationFn): number {
  const code = FN_CODE[fn];
  if (code === undefined) {
    throw new RangeError(`${kernel}: fn must be one of ${Object.keys(FN_CODE).join(', ')}, got ${fn}`);
  }
  return code;
}

/**
 * The dispatches of one entry point of a kernel that reads ACTIVATION_UNIFORMS (this file's and the
 * backward's) over a rows × cols block, one invocation an element: the operands are checked
 * (errors name `kernel`), and a block larger than one binding, or than the workgroup grid reaches,
 * is split into windows.
 */
export async function activationBlockDispatches<E extends string>(
  rt: GpuRuntime,
  declaration: Kernel<typeof ACTIVATION_UNIFORMS, E>,
  kernel: string,
  entryPoint: E,
  fn: number,
  { rows, cols }: { rows: number; cols: number },
  operands: readonly ActivationOperand[],
): Promise<Dispatch[]> {
  checkInteger(kernel, 'rows', rows);
  checkInteger(kernel, 'cols', cols);
  for (const o of operands) {
    checkMatrix(kernel, o.name, o.buffer, o.broadcast ? 1 : rows, cols, o.ld, o.offset);
  }
  if (rows === 0 || cols === 0) return [];

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const block = planBlocks<'r' | 'c'>(
    { r: rows, c: cols },
    [
      ...operands.map((o) =>
        o.broadcast
          ? { measure: (b: Record<'r' | 'c', number>) => b.c, limit: capacity, shrink: ['c'] as const }
          : {
              measure: (b: Record<'r' | 'c', number>) => span(b.r, b.c, o.ld),
              limit: capacity,
              shrink: ['r', 'c'] as const,
            },
      ),
      {
        measure: (b) => b.r * b.c,
        limit: Math.min(maxGroups * maxGroups * 256, 2 ** 31),
        shrink: ['r', 'c'] as const,
      },
    ],
    64,
  );
  const pipeline = await declaration.pipeline(rt, entryPoint, { FN: fn });
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < rows; r0 += block.r) {
    const rb = Math.min(block.r, rows - r0);
    for (let c0 = 0; c0 < cols; c0 += block.c) {
      const cb = Math.min(block.c, cols - c0);
      const ld: Record<Slot, number> = { a: 0, b: 0, y: 0 };
      const base: Record<Slot, number> = { a: 0, b: 0, y: 0 };
      const storage = operands.map((o) => {
        const w = o.broadcast
          ? bindWindow(o.buffer, o.offset + c0, cb, align)
          : bindWindow(o.buffer, o.offset + r0 * o.ld + c0, span(rb, cb, o.ld), align);
        ld[o.slot] = o.ld;
        base[o.slot] = w.base;
        return w.binding;
      });
      dispatches.push({
        pipeline,
        uniforms: declaration.pack({
          rows: rb,
          cols: cb,
          ld_a: ld.a,
          ld_b: ld.b,
          ld_y: ld.y,
          off_a: base.a,
          off_b: base.b,
          off_y: base.y,
        }),
        storage,
        workgroups: foldGrid(Math.ceil((rb * cb) / 256), maxGroups),
      });
    }
  }
  return dispatches;
}
