// For tests that lose a device on purpose: runtimes handed out as the hosts hand them out (the
// CLI's withRuntimes, the worker's RuntimeSlot), the same one while its device lives and a new one
// after, with every one made kept so the test can count them and destroy them at the end.

import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from './nodeGpu';

export class ReacquiringRuntimes {
  readonly made: GpuRuntime[] = [];
  /** The runtime `acquire` gives now; undefined before the first call. */
  current: GpuRuntime | undefined;

  acquire = async (): Promise<GpuRuntime> => {
    if (!this.current || this.current.isLost) {
      this.current = await createNodeRuntime();
      this.made.push(this.current);
    }
    return this.current;
  };

  destroyAll(): void {
    for (const rt of this.made) if (!rt.isLost) rt.destroy();
  }
}
