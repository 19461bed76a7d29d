// The engine's one elementwise pass: a kernel run once over `count` elements of vectors that may be
// longer than one storage binding. The range is cut into windows that fit a binding; each window
// binds every windowed operand from its aligned address at or below the window's first element and
// tells the kernel the remaining offset (kernels/window.ts), and folds its grid over two dimensions
// when it needs more workgroups than one dimension allows. Every elementwise kernel family uses it:
// axpy, scale and soft-threshold (kernels/elementwise.ts), FISTA's passes (prune/fista.ts), the
// masks' vector kernels (prune/masks.ts) and the optimizers' fused passes (train/optim/passes.ts).
// What differs between them is only their uniform block, which the caller packs per window, by
// name (kernels/kernel.ts): windowFields gives the fields every such block spells the same way.

import type { Binding, Dispatch, GpuRuntime } from '../gpu/runtime';
import type { Kernel } from './kernel';
import { foldGrid } from './params';
import { bindWindow, span, windowLimits } from './window';

/** A vector a pass reads or writes. */
export interface PassOperand {
  buffer: GPUBuffer;
  /** The element the pass's first element is at. */
  offset?: number;
  /** Elements between consecutive pass elements (1 but for a diagonal). */
  stride?: number;
  /**
   * Bound the same in every window instead of with the range: `whole` binds the entire buffer (a
   * short vector indexed otherwise, such as by column), `slots` binds that many elements from
   * `offset` (the scalar slots of a record).
   */
  whole?: boolean;
  slots?: number;
}

/** What a window's uniform block is packed from. */
export interface PassWindow {
  /** The window's first element in the pass. */
  start: number;
  /** Elements in the window. */
  count: number;
  /** Per operand, the element offset inside its binding of the element the window reads first. */
  bases: number[];
  /** Workgroups the window runs. */
  blocks: number;
}

export interface WindowedPass {
  /** Names the pass in errors. */
  name: string;
  pipeline: GPUComputePipeline;
  count: number;
  operands: readonly PassOperand[];
  /**
   * Elements one workgroup covers. Windows hold whole blocks where a binding allows it, so a
   * kernel that sums per workgroup sums the same elements whatever the binding limit.
   */
  block: number;
  uniforms: (window: PassWindow) => ArrayBuffer;
  /** Bound after the operands in every window (a partial sums buffer). */
  extra?: readonly Binding[];
}

/** Elements one window of a pass spans: all operands fit their binding, the grid fits its fold. */
export function passWindowElements(rt: GpuRuntime, block: number, strides: readonly number[] = [1]): number {
  const capacity = windowLimits(rt.limits).capacity;
  // A window of k elements of an operand read `stride` apart spans (k − 1)·stride + 1 elements.
  const fits = Math.min(...strides.map((s) => 1 + Math.floor((capacity - 1) / s)));
  const groups = rt.limits.maxComputeWorkgroupsPerDimension;
  const elements = Math.min(fits, groups * groups * block);
  return elements >= block ? Math.floor(elements / block) * block : elements;
}

function checkExtent(name: string, count: number, o: PassOperand): void {
  const offset = o.offset ?? 0;
  const elements = o.whole ? 1 : (o.slots ?? span(count, 1, o.stride ?? 1));
  if ((offset + elements) * 4 > o.buffer.size) {
    throw new RangeError(
      `${name}: ${count} elements from ${offset} overrun "${o.buffer.label}" (${o.buffer.size} bytes)`,
    );
  }
}

export function windowedPassDispatches(rt: GpuRuntime, pass: WindowedPass): Dispatch[] {
  const { name, count, operands, block } = pass;
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`${name}: length ${count} is invalid`);
  if (count === 0) return [];
  for (const o of operands) checkExtent(name, count, o);
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const strides = operands.filter((o) => !o.whole && !o.slots).map((o) => o.stride ?? 1);
  const perWindow = passWindowElements(rt, block, strides);
  const dispatches: Dispatch[] = [];
  for (let start = 0; start < count; start += perWindow) {
    const n = Math.min(perWindow, count - start);
    const windows = operands.map((o) => {
      const offset = o.offset ?? 0;
      if (o.whole) return { binding: o.buffer as Binding, base: offset };
      if (o.slots) return bindWindow(o.buffer, offset, o.slots, align);
      const stride = o.stride ?? 1;
      return bindWindow(o.buffer, offset + start * stride, span(n, 1, stride), align);
    });
    const blocks = Math.ceil(n / block);
    dispatches.push({
      pipeline: pass.pipeline,
      uniforms: pass.uniforms({ start, count: n, bases: windows.map((w) => w.base), blocks }),
      storage: [...windows.map((w) => w.binding), ...(pass.extra ?? [])],
      workgroups: foldGrid(blocks, rt.limits.maxComputeWorkgroupsPerDimension),
    });
  }
  return dispatches;
}

/**
 * The fields of a window's uniform block that the pass knows, for the ones the kernel declares:
 * `n`, the window's length; `start`, its first element in the pass; and, for each operand (named in
 * binding order), the offset inside its binding of the element the window reads first, under the
 * operand's own name.
 */
export function windowFields(
  kernel: Kernel,
  operands: Readonly<Record<string, unknown>>,
  window: PassWindow,
): Record<string, number> {
  const fields: Record<string, number> = {};
  if (Object.hasOwn(kernel.uniforms, 'n')) fields.n = window.count;
  if (Object.hasOwn(kernel.uniforms, 'start')) fields.start = window.start;
  Object.keys(operands).forEach((name, i) => {
    fields[name] = window.bases[i] ?? 0;
  });
  return fields;
}
