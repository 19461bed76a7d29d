// What the jobs do about a lost GPU device: how often they start again on a new one, and how
// they get a new one that works.

import { GpuDeviceLostError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';

/** Lost devices a job survives; one lost again and again is not a passing fault. */
export const MAX_RESUMES = 3;

/** A runtime whose device is alive (a host may hand back a lost one before its listeners ran). */
export async function liveRuntime(acquire: () => Promise<GpuRuntime>): Promise<GpuRuntime> {
  for (let tries = 0; tries < 20; tries++) {
    const rt = await acquire();
    if (!rt.isLost) return rt;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new GpuDeviceLostError('unknown', 'no working GPU device could be acquired after the loss');
}

/**
 * Whether a failure came from a lost device. An operation on a destroyed device can fail (a read-back
 * whose mapping is refused) before the device's lost promise has settled, so the runtime is given a
 * moment to learn of it.
 */
export async function deviceLost(rt: GpuRuntime, error: unknown): Promise<boolean> {
  if (error instanceof GpuDeviceLostError) return true;
  for (let tries = 0; tries < 10 && !rt.isLost; tries++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  return rt.isLost;
}
