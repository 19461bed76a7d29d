// Whole-vector reductions on the GPU: sum, sum of squares, and max |x|. A tree reduction in passes
// of 2048 → 1 keeps the f32 rounding error proportional to the tree depth rather than to n.
// NaN does not propagate through max (WGSL leaves max(x, NaN) to the implementation): check sums,
// which do propagate it, when NaN detection matters.

import shader from '../../shaders/kernels/reduce.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import type { VectorRef } from './elementwise';
import { defineKernel } from './kernel';
import { foldGrid } from './params';
import { bindWindow, windowLimits } from './window';

const kernel = defineKernel({
  name: 'reduce',
  code: shader,
  uniforms: {
    n: 'u32',
    off_in: 'u32',
    off_out: 'u32',
  },
});

export type ReduceOp = 'sum' | 'sumsq' | 'maxabs';

/** Elements one workgroup folds into one partial (must match reduce.wgsl). */
export const REDUCE_BLOCK = 2048;

const FIRST_PASS: Record<ReduceOp, { MAP: number; COMBINE: number }> = {
  sum: { MAP: 0, COMBINE: 0 },
  sumsq: { MAP: 1, COMBINE: 0 },
  maxabs: { MAP: 2, COMBINE: 1 },
};

/** Writes op(x[0..n)) to out[outOffset]. */
export async function reduce(
  rt: GpuRuntime,
  op: ReduceOp,
  n: number,
  x: VectorRef,
  out: VectorRef,
): Promise<void> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`reduce: length ${n} is invalid`);
  if (((x.offset ?? 0) + n) * 4 > x.buffer.size) {
    throw new RangeError(`reduce: ${n} elements overrun "${x.buffer.label}" (${x.buffer.size} bytes)`);
  }
  if (n === 0) {
    rt.write(out.buffer, new Float32Array([0]), (out.offset ?? 0) * 4);
    return;
  }
  const chunk = chunkFor(rt);
  const partials = (len: number) => partialCount(len, chunk);

  const scratch = [];
  const dispatches: Dispatch[] = [];
  let src: VectorRef = x;
  let len = n;
  let pass = 0;
  for (;;) {
    const outputs = partials(len);
    let dst = out;
    if (outputs > 1) {
      const buffer = await rt.createBuffer(`reduce ${op} partials ${pass}`, 'scratch', outputs * 4);
      scratch.push(buffer);
      dst = { buffer: buffer.buffer };
    }
    const constants = pass === 0 ? FIRST_PASS[op] : { MAP: 0, COMBINE: FIRST_PASS[op].COMBINE };
    dispatches.push(...(await passDispatches(rt, constants, src, len, dst, chunk)));
    if (outputs === 1) break;
    src = dst;
    len = outputs;
    pass++;
  }
  rt.submit(dispatches);
  for (const s of scratch) s.destroy();
}

/** Elements one window of a pass covers: whole blocks where the binding allows it. */
function chunkFor(rt: GpuRuntime): number {
  const capacity = windowLimits(rt.limits).capacity;
  return capacity >= REDUCE_BLOCK ? Math.floor(capacity / REDUCE_BLOCK) * REDUCE_BLOCK : capacity;
}

function partialCount(len: number, chunk: number): number {
  const whole = Math.floor(len / chunk);
  return whole * Math.ceil(chunk / REDUCE_BLOCK) + Math.ceil((len - whole * chunk) / REDUCE_BLOCK);
}

/**
 * The longest chain of f32 additions any input element goes through in reduce() on this runtime:
 * 16 per pass (8 serial, 8 tree levels). The rounding error of a sum is at most this many unit
 * roundoffs times Σ|xᵢ|.
 */
export function reductionDepth(rt: GpuRuntime, n: number): number {
  const chunk = chunkFor(rt);
  let passes = 1;
  for (let len = partialCount(n, chunk); len > 1; len = partialCount(len, chunk)) passes++;
  return 16 * passes;
}

/** Reduces and reads the result back. */
export async function reduceToNumber(rt: GpuRuntime, op: ReduceOp, n: number, x: VectorRef): Promise<number> {
  const out = await rt.createBuffer(`reduce ${op} result`, 'scratch', 4);
  try {
    await reduce(rt, op, n, x, { buffer: out.buffer });
    return (await rt.readF32(out.buffer, 0, 4))[0] as number;
  } finally {
    out.destroy();
  }
}

async function passDispatches(
  rt: GpuRuntime,
  constants: Record<string, number>,
  src: VectorRef,
  len: number,
  dst: VectorRef,
  chunk: number,
): Promise<Dispatch[]> {
  const pipeline = await kernel.pipeline(rt, 'main', constants);
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const dispatches: Dispatch[] = [];
  let written = 0;
  for (let start = 0; start < len; start += chunk) {
    const count = Math.min(chunk, len - start);
    const blocks = Math.ceil(count / REDUCE_BLOCK);
    const input = bindWindow(src.buffer, (src.offset ?? 0) + start, count, align);
    const output = bindWindow(dst.buffer, (dst.offset ?? 0) + written, blocks, align);
    dispatches.push({
      pipeline,
      uniforms: kernel.pack({ n: count, off_in: input.base, off_out: output.base }),
      storage: [input.binding, output.binding],
      workgroups: foldGrid(blocks, rt.limits.maxComputeWorkgroupsPerDimension),
    });
    written += blocks;
  }
  return dispatches;
}
