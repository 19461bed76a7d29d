import { describe, expect, it } from 'vitest';
import { GpuDeviceLostError, GpuUnavailableError } from '../gpu/errors';
import { nodeGpu } from '../host/nodeGpu';
import { RuntimeSlot } from './runtimeSlot';

describe('RuntimeSlot', () => {
  it('hands out one runtime, and a fresh one after the device is lost', async () => {
    const slot = new RuntimeSlot(() => nodeGpu());
    const first = await slot.acquire();
    expect(await slot.acquire()).toBe(first);

    const lost = new Promise<GpuDeviceLostError>((resolve) => slot.onLost(resolve));
    // Destroying the device behind the runtime's back is how a driver reset looks to it.
    first.device.destroy();
    expect(await lost).toBeInstanceOf(GpuDeviceLostError);

    const second = await slot.acquire();
    expect(second).not.toBe(first);
    expect(second.isLost).toBe(false);
    second.destroy();
  });

  it('does not keep a failed acquisition, so a later call can succeed', async () => {
    let gpu: GPU | undefined;
    const slot = new RuntimeSlot(() => gpu);
    await expect(slot.acquire()).rejects.toBeInstanceOf(GpuUnavailableError);
    gpu = nodeGpu();
    const rt = await slot.acquire();
    expect(rt.isLost).toBe(false);
    rt.destroy();
  });
});
