import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { chooseMatvecKernel, type MatvecKernel, matvecKernelFor } from './matvecKernel';

/** A runtime stand-in that has only what the rule reads: the adapter's report. */
const adapter = (isFallbackAdapter: boolean) =>
  ({ capability: { isFallbackAdapter } }) as unknown as Pick<GpuRuntime, 'capability'>;

describe('the matrix–vector kernel choice', () => {
  it('gives a CPU (fallback) adapter the direct kernel and any other adapter the workgroup one', () => {
    expect(chooseMatvecKernel(adapter(true))).toBe('direct');
    expect(chooseMatvecKernel(adapter(false))).toBe('workgroup');
  });

  it('keeps a kernel the caller names, on either adapter, and refuses one that does not exist', () => {
    for (const fallback of [true, false]) {
      expect(matvecKernelFor('matvec', adapter(fallback), 'workgroup')).toBe('workgroup');
      expect(matvecKernelFor('matvec', adapter(fallback), 'direct')).toBe('direct');
      expect(matvecKernelFor('matvec', adapter(fallback), undefined)).toBe(fallback ? 'direct' : 'workgroup');
    }
    expect(() => matvecKernelFor('nmMatvec', adapter(true), 'tree' as MatvecKernel)).toThrow(
      /nmMatvec: no kernel named tree/,
    );
  });
});
