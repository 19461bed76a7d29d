// Backward of the MLP activations (kernels/activation.ts): dx = dy · f′(x) for GELU (erf and tanh
// forms), ReLU and SiLU, and the gated form's two gradients (SwiGLU: d gate = dout · up · silu′(gate),
// d up = dout · silu(gate)), written over the gate and up buffers, which the backward needs no
// longer once it has them. The shader is activationBackward.wgsl compiled together with the
// forward's activation.wgsl, whose erf and activate() it reuses. Blocks larger than one storage
// binding are processed in windows, as in the forward.

import forwardShader from '../../../shaders/kernels/activation.wgsl?raw';
import backwardShader from '../../../shaders/train/backward/activationBackward.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import type { ActivationFn, MatrixRef } from '../../kernels/activation';
import { defineKernel } from '../../kernels/kernel';
import { checkInteger, checkMatrix } from '../../kernels/operands';
import { foldGrid } from '../../kernels/params';
import { bindWindow, planBlocks, span, windowCapacity } from '../../kernels/window';

const shader = `${forwardShader}\n${backwardShader}`;

const activationBackwardKernel = defineKernel({
  name: 'activationBackward',
  code: shader,
  entryPoints: ['map_backward', 'map_backward_inplace', 'gated_backward'],
  uniforms: {
    rows: 'u32',
    cols: 'u32',
    ld_a: 'u32',
    ld_b: 'u32',
    ld_y: 'u32',
    off_a: 'u32',
    off_b: 'u32',
    off_y: 'u32',
  },
});

/** The FN override of activation.wgsl. */
const FN_CODE: Record<ActivationFn, number> = { gelu: 0, gelu_tanh: 1, relu: 2, silu: 3 };

export interface ActivationBackwardArgs {
  fn: ActivationFn;
  rows: number;
  cols: number;
  /** The activation's input (pre-activation). */
  x: MatrixRef;
  /** The gradient of its output. */
  dy: MatrixRef;
  /** Where dx goes; omitted (or the same block as dy), dy is overwritten. */
  dx?: MatrixRef;
}

export interface GatedBackwardArgs {
  /** 'silu' for SwiGLU, 'gelu' / 'gelu_tanh' for GeGLU. */
  fn: ActivationFn;
  rows: number;
  cols: number;
  /** The gate's input (w1 x); overwritten with its gradient. */
  a: MatrixRef;
  /** The up projection (w3 x); overwritten with its gradient. */
  b: MatrixRef;
  /** The gradient of out = f(a) · b. */
  dOut: MatrixRef;
}

export async function activationBackward(rt: GpuRuntime, args: ActivationBackwardArgs): Promise<void> {
  const kernel = `activationBackward ${args.fn}`;
  const x = operand('a', 'x', args.x, args.cols);
  const dy = operand('b', 'dy', args.dy, args.cols);
  if (x.buffer === dy.buffer) throw aliasError(kernel, 'dy', 'x');
  if (!args.dx || sameBlock(dy, operand('y', 'dx', args.dx, args.cols))) {
    rt.submit(await dispatches(rt, kernel, 'map_backward_inplace', args, [x, dy]));
    return;
  }
  const dx = operand('y', 'dx', args.dx, args.cols);
  if (dx.buffer === x.buffer) throw aliasError(kernel, 'dx', 'x');
  if (dx.buffer === dy.buffer) throw aliasError(kernel, 'dx', 'dy');
  rt.submit(await dispatches(rt, kernel, 'map_backward', args, [x, dy, dx]));
}

export async function gatedActivationBackward(rt: GpuRuntime, args: GatedBackwardArgs): Promise<void> {
  const kernel = `gatedActivationBackward ${args.fn}`;
  const a = operand('a', 'a', args.a, args.cols);
  const b = operand('b', 'b', args.b, args.cols);
  const dOut = operand('y', 'dOut', args.dOut, args.cols);
  if (a.buffer === b.buffer) throw aliasError(kernel, 'a', 'b');
  if (dOut.buffer === a.buffer) throw aliasError(kernel, 'a', 'dOut');
  if (dOut.buffer === b.buffer) throw aliasError(kernel, 'b', 'dOut');
  rt.submit(await dispatches(rt, kernel, 'gated_backward', args, [a, b, dOut]));
}

type Slot = 'a' | 'b' | 'y';

interface Operand {
  slot: Slot;
  name: string;
  buffer: GPUBuffer;
  ld: number;
  offset: number;
}

function operand(slot: Slot, name: string, ref: MatrixRef, cols: number): Operand {
  return { slot, name, buffer: ref.buffer, ld: ref.ld ?? cols, offset: ref.offset ?? 0 };
}

function sameBlock(x: Operand, y: Operand): boolean {
  return x.buffer === y.buffer && x.offset === y.offset && x.ld === y.ld;
}

function aliasError(kernel: string, written: string, read: string): RangeError {
  return new RangeError(
    `${kernel}: ${written} shares a buffer with ${read}; WebGPU cannot bind one buffer for writing ` +
      'and reading in a dispatch, so use separate buffers (or, for dx, write over dy)',
  );
}

async function dispatches(
  rt: GpuRuntime,
  kernel: string,
  entryPoint: 'map_backward' | 'map_backward_inplace' | 'gated_backward',
  args: { fn: ActivationFn; rows: number; cols: number },
  operands: readonly Operand[],
): Promise<Dispatch[]> {
  const { rows, cols } = args;
  const fn = FN_CODE[args.fn];
  if (fn === undefined) {
    throw new RangeError(`${kernel}: fn must be one of ${Object.keys(FN_CODE).join(', ')}, got ${args.fn}`);
  }
  checkInteger(kernel, 'rows', rows);
  checkInteger(kernel, 'cols', cols);
  for (const o of operands) checkMatrix(kernel, o.name, o.buffer, rows, cols, o.ld, o.offset);
  if (rows === 0 || cols === 0) return [];

  const limits = rt.limits;
  const align = limits.minStorageBufferOffsetAlignment;
  const capacity = windowCapacity(limits.maxStorageBufferBindingSize, align);
  const maxGroups = limits.maxComputeWorkgroupsPerDimension;
  const block = planBlocks<'r' | 'c'>(
    { r: rows, c: cols },
    [
      ...operands.map((o) => ({
        measure: (b: Record<'r' | 'c', number>) => span(b.r, b.c, o.ld),
        limit: capacity,
        shrink: ['r', 'c'] as const,
      })),
      {
        measure: (b) => b.r * b.c,
        limit: Math.min(maxGroups * maxGroups * 256, 2 ** 31),
        shrink: ['r', 'c'] as const,
      },
    ],
    64,
  );
  const pipeline = await activationBackwardKernel.pipeline(rt, entryPoint, { FN: fn });
  const out: Dispatch[] = [];
  for (let r0 = 0; r0 < rows; r0 += block.r) {
    const rb = Math.min(block.r, rows - r0);
    for (let c0 = 0; c0 < cols; c0 += block.c) {
      const cb = Math.min(block.c, cols - c0);
      const ld: Record<Slot, number> = { a: 0, b: 0, y: 0 };
      const base: Record<Slot, number> = { a: 0, b: 0, y: 0 };
      const storage = operands.map((o) => {
        const w = bindWindow(o.buffer, o.offset + r0 * o.ld + c0, span(rb, cb, o.ld), align);
        ld[o.slot] = o.ld;
        base[o.slot] = w.base;
        return w.binding;
      });
      out.push({
        pipeline,
        uniforms: activationBackwardKernel.pack({
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
  return out;
}
