import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { matmulDispatches } from './matmul';
import { chooseMatmulKernel, MATMUL_TILE, type MatmulKernel } from './matmulKernel';

/** A runtime stand-in that has only what the rule reads: the adapter's report. */
const adapter = (isFallbackAdapter: boolean) =>
  ({ capability: { isFallbackAdapter } }) as unknown as Pick<GpuRuntime, 'capability'>;

describe('the matmul kernel choice', () => {
  it('gives a CPU (fallback) adapter the direct kernel and any other adapter the tiled one', () => {
    expect(chooseMatmulKernel(adapter(true))).toBe('direct');
    expect(chooseMatmulKernel(adapter(false))).toBe('tiled');
  });

  describe('in the wrapper', () => {
    let rt: GpuRuntime;
    let buffers: GPUBuffer[];
    beforeAll(async () => {
      rt = await createNodeRuntime();
      buffers = await Promise.all(
        ['A', 'B', 'C'].map(async (label) => (await rt.createBuffer(label, 'scratch', 4 * 100 * 100)).buffer),
      );
    });
    afterAll(() => rt.destroy());

    const product = (kernel?: MatmulKernel) => {
      const [a, b, c] = buffers as [GPUBuffer, GPUBuffer, GPUBuffer];
      return matmulDispatches(rt, { a, b, c, m: 100, n: 70, k: 9, kernel });
    };

    it("runs the adapter's kernel when the caller names none", async () => {
      const [chosen] = await product();
      const [named] = await product(chooseMatmulKernel(rt));
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
