// Binding windows: how a kernel reaches part of a matrix that, whole, is larger than
// maxStorageBufferBindingSize. A window is a rows × cols block of a row-major matrix with leading
// dimension ld; it occupies (rows − 1)·ld + cols consecutive elements. The binding must start at a
// multiple of minStorageBufferOffsetAlignment, so it starts at the aligned address at or below the
// block and the kernel is told the remaining element offset.

import type { EngineLimits } from '../gpu/device';
import { GpuLimitError } from '../gpu/errors';
import type { Binding } from '../gpu/runtime';

export interface Window {
  binding: Binding;
  /** Element offset of the block's first element inside the binding. */
  base: number;
}

/** Elements a rows × cols block with leading dimension ld spans. */
export function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/** Elements a window may span so that, with the worst alignment slack, it fits one binding. */
export function windowCapacity(maxBindingBytes: number, alignmentBytes: number): number {
  return Math.floor((maxBindingBytes - alignmentBytes) / 4);
}

/** What a kernel plans its windows and grid from, read once from the device's limits. */
export interface WindowLimits {
  /** minStorageBufferOffsetAlignment, in bytes: where a binding may start. */
  align: number;
  /** Elements a window may span (windowCapacity). */
  capacity: number;
  /** maxComputeWorkgroupsPerDimension. */
  maxGroups: number;
}

/** The window limits of a device, as every windowed kernel reads them. */
export function windowLimits(limits: EngineLimits): WindowLimits {
  const align = limits.minStorageBufferOffsetAlignment;
  return {
    align,
    capacity: windowCapacity(limits.maxStorageBufferBindingSize, align),
    maxGroups: limits.maxComputeWorkgroupsPerDimension,
  };
}

export function bindWindow(
  buffer: GPUBuffer,
  firstElement: number,
  elements: number,
  alignmentBytes: number,
): Window {
  const firstByte = firstElement * 4;
  const offset = Math.floor(firstByte / alignmentBytes) * alignmentBytes;
  const base = (firstByte - offset) / 4;
  const size = Math.max(4, (base + elements) * 4);
  return { binding: { buffer, offset, size }, base };
}

/**
 * Shrinks block sizes until every constraint holds. Each constraint measures the blocks (usually
 * the elements an operand's window spans) against its limit and names the block dimensions to
 * shrink, in order (the strided dimension first: halving it shrinks a span by whole rows). Sizes
 * above the tile stay multiples of the tile so that sub-problems keep whole tiles.
 */
export function planBlocks<D extends string>(
  initial: Record<D, number>,
  constraints: readonly {
    measure: (block: Record<D, number>) => number;
    limit: number;
    shrink: readonly D[];
  }[],
  tile: number,
): Record<D, number> {
  const block = { ...initial };
  for (;;) {
    const over = constraints.find((c) => c.measure(block) > c.limit);
    if (!over) return block;
    const dim = over.shrink.find((d) => block[d] > 1);
    if (dim === undefined) {
      throw new GpuLimitError(
        `a single element exceeds the limit of ${over.limit} in a kernel's tiling plan`,
      );
    }
    block[dim] = halve(block[dim], tile);
  }
}

function halve(size: number, tile: number): number {
  const half = Math.ceil(size / 2);
  return half > tile ? Math.ceil(half / tile) * tile : half;
}
