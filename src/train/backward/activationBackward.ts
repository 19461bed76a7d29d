// Backward of the MLP activations (kernels/activation.ts): dx = dy · f′(x) for GELU (erf and tanh
// forms), ReLU and SiLU, and the gated form's two gradients (SwiGLU: d gate = dout · up · silu′(gate),
// d up = dout · silu(gate)), written over the gate and up buffers, which the backward needs no
// longer once it has them. The shader is activationBackward.wgsl compiled together with the
// forward's activation.wgsl, whose erf and activate() it reuses. Blocks larger than one storage
// binding are processed in windows, as in the forward.

import forwardShader from '../../../shaders/kernels/activation.wgsl?raw';
import backwardShader from '../../../shaders/train/backward/activationBackward.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import {
  ACTIVATION_UNIFORMS,
  type ActivationFn,
  type ActivationOperand,
  activationBlockDispatches,
  activationFnCode,
  type MatrixRef,
  activationOperand as operand,
  sameBlock,
} from '../../kernels/activation';
import { defineKernel } from '../../kernels/kernel';

const shader = `${forwardShader}\n${backwardShader}`;

const activationBackwardKernel = defineKernel({
  name: 'activationBackward',
  code: shader,
  entryPoints: ['map_backward', 'map_backward_inplace', 'gated_backward'],
  uniforms: ACTIVATION_UNIFORMS,
});

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
  operands: readonly ActivationOperand[],
): Promise<Dispatch[]> {
  const fn = activationFnCode(kernel, args.fn);
  return activationBlockDispatches(rt, activationBackwardKernel, kernel, entryPoint, fn, args, operands);
}
