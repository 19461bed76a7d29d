import { describe, expect, it } from 'vitest';
import { normDispatches } from './norm';
import { chooseNormKernel, NORM_ROW_GROUP, type NormKernel } from './normKernel';
import { adapterReport, withDispatchBuffers } from './testing';

describe('the norm kernel choice', () => {
  it('gives a CPU (fallback) adapter the row kernel and any other adapter the workgroup one', () => {
    expect(chooseNormKernel(adapterReport(true))).toBe('row');
    expect(chooseNormKernel(adapterReport(false))).toBe('workgroup');
  });

  describe('in the wrapper', () => {
    const setup = withDispatchBuffers(['x', 'g', 'y'], 4 * 100 * 64);

    const rows = (kernel?: NormKernel) => {
      const [x, weight, y] = setup.buffers() as [GPUBuffer, GPUBuffer, GPUBuffer];
      return normDispatches(setup.rt(), { kind: 'rms', x, y, weight, rows: 100, width: 64, kernel });
    };

    it("runs the adapter's kernel when the caller names none", async () => {
      const [chosen] = await rows();
      const [named] = await rows(chooseNormKernel(setup.rt()));
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
