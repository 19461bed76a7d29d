// For tests that watch the runtimes a host creates (a lost device, a failed allocation). It imports
// nothing at run time, so a vi.mock factory can load it while the host module is being mocked.

import type { GpuRuntime } from '../gpu/runtime';

/**
 * Node's GPU host with every runtime it creates pushed onto `made`:
 * `vi.mock('../host/nodeGpu', async (original) =>
 * (await import('../host/testing')).recordingNodeGpu(await original(), state.made))`.
 */
export function recordingNodeGpu(original: typeof import('./nodeGpu'), made: GpuRuntime[]) {
  return {
    ...original,
    createNodeRuntime: async (...args: Parameters<typeof original.createNodeRuntime>) => {
      const rt = await original.createNodeRuntime(...args);
      made.push(rt);
      return rt;
    },
  };
}
