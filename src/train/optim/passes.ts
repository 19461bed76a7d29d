// The fused elementwise passes every optimizer is built from, and the gradient finiteness check.
//
// A pass runs one entry point of an optimizer shader, declared as a kernel (kernels/kernel.ts), over
// the `count` elements of a parameter. Its uniform block names its fields: the pass fills n (the
// window's length), start (its first element), pbase (the first partial it writes) and each
// operand's window offset under the operand's name, and the caller gives the rest by name. They share one
// grid: a workgroup covers PASS_BLOCK = 2048 elements, each of its 256 invocations 8 elements 256
// apart. A pass can also fold a per-element quantity (Σ Û², ⟨M, Û⟩, …) into one partial sum per
// workgroup, which kernels/reduce.ts then sums into a scalar slot on the GPU: the optimizers never
// read a norm back to the CPU to use it in the next pass. Summing passes cover SUM_BLOCK = 8192
// elements per workgroup (32 per invocation) so that fewer workgroups pay for the tree's barriers,
// which dominate on CPU drivers (SwiftShader).
// Parameters longer than one storage binding are processed in windows (kernels/windowedPass.ts).

import nonFiniteShader from '../../../shaders/train/optim/nonFinite.wgsl?raw';
import optimizerCommon from '../../../shaders/train/optim/optimCommon.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import { defineKernel, type Kernel } from '../../kernels/kernel';
import { reduce } from '../../kernels/reduce';
import {
  type PassOperand,
  passWindowElements,
  windowedPassDispatches,
  windowFields,
} from '../../kernels/windowedPass';
import { type NonFiniteCount, NonFiniteGradientError, type ParamSlot } from './optimizer';

/** Elements one workgroup of a pass covers (must match the shaders' 8 × 256). */
export const PASS_BLOCK = 2048;
/** Elements one workgroup of a summing pass covers (the shaders' 32 × 256). */
export const SUM_BLOCK = 8192;

/** An operand of a pass: windowed with the element range unless `whole` (short vectors, scalar slots). */
export type Operand = Pick<PassOperand, 'buffer' | 'offset' | 'whole'>;

/** A pass's operands in binding order, each under the uniform field that receives its window offset. */
export type Operands = Readonly<Record<string, Operand>>;

export interface PassOptions {
  /** The block's fields that the pass does not fill (scalars, row length, flags), by name. */
  values?: Readonly<Record<string, number>>;
  /** Receives one partial per workgroup, from index 0, bound after the operands. */
  partials?: GPUBuffer;
}

const nonFiniteKernel = defineKernel({
  name: 'nonFinite',
  code: nonFiniteShader,
  uniforms: { n: 'u32', grad: 'u32', counts: 'u32' },
});

/** Partials a summing pass over `count` elements writes: one per workgroup of every window. */
export function partialCount(rt: GpuRuntime, count: number): number {
  const capacity = passWindowElements(rt, SUM_BLOCK);
  const whole = Math.floor(count / capacity);
  return whole * Math.ceil(capacity / SUM_BLOCK) + Math.ceil((count - whole * capacity) / SUM_BLOCK);
}

/** The dispatches of one pass (kernels/windowedPass.ts); returns how many partials they write. */
async function passDispatches(
  rt: GpuRuntime,
  kernel: Kernel,
  count: number,
  operands: Operands,
  options: PassOptions = {},
): Promise<{ dispatches: Dispatch[]; partials: number }> {
  if (kernel.entryPoints.length !== 1)
    throw new Error(`${kernel.name}: a pass runs a kernel declared with one entry point`);
  const pipeline = await kernel.pipeline(rt);
  const partialBase = Object.hasOwn(kernel.uniforms, 'pbase');
  let written = 0;
  const dispatches = windowedPassDispatches(rt, {
    name: `${kernel.name}/${kernel.entryPoints[0]}`,
    pipeline,
    count,
    operands: Object.values(operands),
    block: options.partials ? SUM_BLOCK : PASS_BLOCK,
    extra: options.partials ? [options.partials] : [],
    uniforms: (window) => {
      const uniforms = kernel.pack({
        ...windowFields(kernel, operands, window),
        ...(partialBase ? { pbase: written } : {}),
        ...options.values,
      });
      written += window.blocks;
      return uniforms;
    },
  });
  return { dispatches, partials: written };
}

export async function runPass(
  rt: GpuRuntime,
  kernel: Kernel,
  count: number,
  operands: Operands,
  options: PassOptions = {},
): Promise<number> {
  const { dispatches, partials } = await passDispatches(rt, kernel, count, operands, options);
  rt.submit(dispatches);
  return partials;
}

/** Runs a partial-writing pass and sums its partials into out[slot] on the GPU. */
export async function sumPass(
  rt: GpuRuntime,
  kernel: Kernel,
  count: number,
  operands: Operands,
  options: PassOptions & { partials: GPUBuffer },
  out: { buffer: GPUBuffer; offset: number },
): Promise<void> {
  const partials = await runPass(rt, kernel, count, operands, options);
  await reduce(rt, 'sum', partials, { buffer: options.partials }, out);
}

/**
 * Refuses the step when any gradient holds NaN or ±∞. Cost: one read of every gradient element
 * (4 bytes; AdamW's own step moves 28 per element), one dispatch per parameter, and one read-back of
 * 8 bytes per parameter, which waits for the GPU to finish the work queued before the step (the
 * backward pass). The test looks at the exponent bits, so it holds even where a shader compiler
 * assumes floats are finite; nothing is counted twice and sums cannot overflow.
 */
export async function checkGradients(
  rt: GpuRuntime,
  optimizer: string,
  params: readonly ParamSlot[],
): Promise<void> {
  if (params.length === 0) return;
  const counts = await rt.createBuffer(
    `${optimizer} gradient check`,
    'optimizer-transient',
    8 * params.length,
  );
  try {
    for (const [i, slot] of params.entries()) {
      await runPass(rt, nonFiniteKernel, slot.rows * slot.cols, {
        grad: { buffer: slot.g },
        counts: { buffer: counts.buffer, offset: 2 * i, whole: true },
      });
    }
    const found = new Uint32Array(await rt.read(counts.buffer));
    const bad: NonFiniteCount[] = [];
    for (const [i, slot] of params.entries()) {
      const nan = found[2 * i + 1] as number;
      const infinite = found[2 * i] as number;
      if (nan + infinite > 0)
        bad.push({ parameter: slot.name, nan, infinite, elements: slot.rows * slot.cols });
    }
    if (bad.length > 0) throw new NonFiniteGradientError(optimizer, bad);
  } finally {
    counts.destroy();
  }
}

/** A step's scratch buffers, freed together at its end. */
export class Scratch {
  private readonly owned: { destroy(): void }[] = [];
  constructor(private readonly rt: GpuRuntime) {}

  async buffer(label: string, floats: number): Promise<GPUBuffer> {
    const b = await this.rt.createBuffer(label, 'optimizer-transient', 4 * Math.max(1, floats));
    this.owned.push(b);
    return b.buffer;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

/** A shader of the factored optimizers with their shared helpers in front of it. */
export function withOptimizerCommon(code: string): string {
  return `${optimizerCommon}\n${code}`;
}
