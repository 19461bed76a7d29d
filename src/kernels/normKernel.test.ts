import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { normDispatches } from './norm';
import { chooseNormKernel, NORM_ROW_GROUP, type NormKernel } from './normKernel';

/** A runtime stand-in that has only what the rule reads: the adapter's report. */
const adapter = (isFallbackAdapter: boolean) =>
  ({ capability: { isFallbackAdapter } }) as unknown as Pick<GpuRuntime, 'capability'>;

describe('the norm kernel choice', () => {
  it('gives a CPU (fallback) adapter the row kernel and any other adapter the workgroup one', () => {
    expect(chooseNormKernel(adapter(true))).toBe('row');
    expect(chooseNormKernel(adapter(false))).toBe('workgroup');
  });

  describe('in the wrapper', () => {
    let rt: GpuRuntime;
    let buffers: GPUBuffer[];
    beforeAll(async () => {
      rt = await createNodeRuntime();
      buffers = await Promise.all(
        ['x', 'g', 'y'].map(async (label) => (await rt.createBuffer(label, 'scratch', 4 * 100 * 64)).buffer),
      );
    });
    afterAll(() => rt.destroy());

    const rows = (kernel?: NormKernel) => {
      const [x, weight, y] = buffers as [GPUBuffer, GPUBuffer, GPUBuffer];
      return normDispatches(rt, { kind: 'rms', x, y, weight, rows: 100, width: 64, kernel });
    };

    it("runs the adapter's kernel when the caller names none", async () => {
      const [chosen] = await rows();
      const [named] = await rows(chooseNormKernel(rt));
      expect(chosen?.pipeline).toBe(named?.pipeline);
    });

    it('runs the named kernel: a workgroup per row, or an invocation per row', async () => {
      const [workgroup] = await rows('workgroup');
      expect(workgroup?.pipeline.label).toBe('norm');
      expect(workgroup?.workgroups[0]).toBe(100);
      const [row] = await rows('row');
      expect(row?.pipeline.label).toBe('norm row');
      expect(row?.workgroups[0]).toBe(Math.ceil(100 / NORM_ROW_GROUP));
    });

    it('refuses a kernel it does not have, by name', async () => {
      await expect(rows('blocked' as NormKernel)).rejects.toThrow(/no kernel named blocked/);
    });
  });
});
