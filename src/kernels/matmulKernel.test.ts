import { describe, expect, it } from 'vitest';
import { matmulDispatches } from './matmul';
import { chooseMatmulKernel, MATMUL_TILE, type MatmulKernel } from './matmulKernel';
import { adapterReport, withDispatchBuffers } from './testing';

describe('the matmul kernel choice', () => {
  it('gives a CPU (fallback) adapter the direct kernel and any other adapter the tiled one', () => {
    expect(chooseMatmulKernel(adapterReport(true))).toBe('direct');
    expect(chooseMatmulKernel(adapterReport(false))).toBe('tiled');
  });

  describe('in the wrapper', () => {
    const setup = withDispatchBuffers(['A', 'B', 'C'], 4 * 100 * 100);

    const product = (kernel?: MatmulKernel) => {
      const [a, b, c] = setup.buffers() as [GPUBuffer, GPUBuffer, GPUBuffer];
      return matmulDispatches(setup.rt(), { a, b, c, m: 100, n: 70, k: 9, kernel });
    };

    it("runs the adapter's kernel when the caller names none", async () => {
      const [chosen] = await product();
      const [named] = await product(chooseMatmulKernel(setup.rt()));
      expect(chosen?.pipeline).toBe(named?.pipeline);
    });

    it('runs the named kernel, with a grid of its own tile size', async () => {
      for (const kernel of ['tiled', 'direct'] as const) {
        const [dispatch] = await product(kernel);
        expect(dispatch?.pipeline.label).toBe(kernel === 'tiled' ? 'matmul' : 'matmul direct');
        const tile = MATMUL_TILE[kernel];
        // One workgroup per tile of the 100 × 70 result.
        expect(dispatch?.workgroups[0]).toBe(Math.ceil(100 / tile) * Math.ceil(70 / tile));
      }
    });

    it('refuses a kernel it does not have, by name', async () => {
      await expect(product('blocked' as MatmulKernel)).rejects.toThrow(/no kernel named blocked/);
    });
  });
});
