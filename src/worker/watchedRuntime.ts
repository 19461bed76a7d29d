// The runtime a worker job is on now, its ledger watched for the page's memory chart. A job asks
// for its runtime again after a lost device (src/jobs resume on a new one), and the chart must then
// follow the new device's ledger and let go of the dead one's; evaluation, pruning and training
// all do this, so it is written here once.

import type { GpuRuntime } from '../gpu/runtime';

export interface WatchedRuntime {
  /** The runtime the job is on now. */
  readonly rt: GpuRuntime;
  /** Asks the host for the runtime (a new one after a lost device) and watches the ledger of the one it gets. */
  acquire(): Promise<GpuRuntime>;
  /** Stops watching, however the job ended. */
  stop(): void;
}

/** Watches `first`'s ledger, calling `changed` on each change, until the job gets another runtime. */
export function watchRuntime(
  first: GpuRuntime,
  host: () => Promise<GpuRuntime>,
  changed: () => void,
): WatchedRuntime {
  let rt = first;
  let unsubscribe = rt.ledger.subscribe(changed);
  return {
    get rt() {
      return rt;
    },
    async acquire() {
      const next = await host();
      if (next !== rt) {
        unsubscribe();
        rt = next;
        unsubscribe = rt.ledger.subscribe(changed);
      }
      return next;
    },
    stop: () => unsubscribe(),
  };
}
