// Holds the worker's one GpuRuntime. It is created on first use rather than at start-up so that a
// page without WebGPU still gets a capability answer, and it is dropped when the device is lost or
// creation fails, so the next call acquires a fresh device instead of reusing a dead one.

import type { GpuDeviceLostError } from '../gpu/errors';
import { GpuRuntime } from '../gpu/runtime';

export class RuntimeSlot {
  private current: Promise<GpuRuntime> | null = null;
  private readonly lostListeners = new Set<(error: GpuDeviceLostError) => void>();

  constructor(private readonly gpu: () => GPU | undefined) {}

  acquire(): Promise<GpuRuntime> {
    if (this.current) return this.current;
    const attempt = GpuRuntime.create(this.gpu()).then((rt) => {
      rt.onLost((error) => {
        if (this.current === attempt) this.current = null;
        for (const listener of this.lostListeners) listener(error);
      });
      return rt;
    });
    // A failed acquisition must not stick: the user may enable WebGPU or close a heavy tab and retry.
    attempt.catch(() => {
      if (this.current === attempt) this.current = null;
    });
    this.current = attempt;
    return attempt;
  }

  /**
   * A runtime on a device of its own, outside the slot: an extra device of a pruning run on several.
   * Its owner destroys it; its loss does not touch the slot's runtime.
   */
  createExtra(): Promise<GpuRuntime> {
    return GpuRuntime.create(this.gpu());
  }

  /** Called whenever a runtime handed out by this slot loses its device. */
  onLost(listener: (error: GpuDeviceLostError) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }
}
