// For tests that need the GPU to run out of memory on cue, and to check that nothing was left
// allocated afterwards.

import { GpuOutOfMemoryError } from './errors';
import type { BufferCategory } from './ledger';
import type { GpuRuntime } from './runtime';

/**
 * Makes the runtime's next `count` allocations that `matches` accepts fail as out of memory, as the
 * allocator reports it; returns the undo.
 */
export function failAllocations(
  rt: GpuRuntime,
  count: number,
  matches: (label: string, category: BufferCategory, size: number) => boolean,
): () => void {
  const original = rt.createBuffer.bind(rt);
  let left = count;
  rt.createBuffer = async (label, category, size, usage) => {
    if (left > 0 && matches(label, category, size)) {
      left--;
      throw new GpuOutOfMemoryError(label, size, rt.ledger.snapshot().liveBytes, 'injected by the test');
    }
    return original(label, category, size, usage);
  };
  return () => {
    rt.createBuffer = original;
  };
}

/** Bytes live on the device besides the runtime's pool of read-back staging buffers, which it keeps. */
export function heldBytes(rt: GpuRuntime): number {
  const s = rt.ledger.snapshot();
  return s.liveBytes - (s.byCategory.staging ?? 0);
}
