// How a bitmask matrix is split into blocks of whole rows for its kernels (bitmaskMatvec,
// bitmaskMatmul): a block's values are a contiguous run of the values array whose length depends on
// how many entries its rows store, so the blocks cannot be a fixed number of rows. They are found
// from the host's copy of the row offsets: at most `most` rows each, halved until the block's values
// fit one binding.

import { GpuLimitError } from '../gpu/errors';
import type { BitmaskOnGpu } from './upload';

/**
 * Blocks [r0, r1) of at most `most` rows whose values each span at most `capacity` elements. A
 * single row storing more than `capacity` values is a GpuLimitError naming the kernel and tensor.
 */
export function bitmaskRowBlocks(
  kernel: string,
  w: BitmaskOnGpu,
  most: number,
  capacity: number,
): [number, number][] {
  const offsets = w.hostRowOffsets;
  const blocks: [number, number][] = [];
  for (let r0 = 0; r0 < w.rows; ) {
    let r1 = Math.min(w.rows, r0 + most);
    while ((offsets[r1] as number) - (offsets[r0] as number) > capacity) {
      if (r1 === r0 + 1)
        throw new GpuLimitError(
          `${kernel}: row ${r0} of ${w.name} has more values than one storage binding holds (${capacity})`,
        );
      r1 = r0 + Math.floor((r1 - r0) / 2);
    }
    blocks.push([r0, r1]);
    r0 = r1;
  }
  return blocks;
}

/**
 * The window of values a block [r0, r1) binds: its first value's index and how many it spans. A
 * block without values still binds one element inside the buffer (WebGPU binds nothing empty).
 */
export function bitmaskValuesWindow(
  w: BitmaskOnGpu,
  r0: number,
  r1: number,
): { first: number; count: number } {
  const first = Math.min(w.hostRowOffsets[r0] as number, w.values.size / 4 - 1);
  return { first, count: Math.max(1, (w.hostRowOffsets[r1] as number) - first) };
}
