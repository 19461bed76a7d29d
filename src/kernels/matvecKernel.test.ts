import { describe, expect, it } from 'vitest';
import { chooseMatvecKernel, type MatvecKernel, matvecKernelFor } from './matvecKernel';
import { adapterReport } from './testing';

describe('the matrix–vector kernel choice', () => {
  it('gives a CPU (fallback) adapter the direct kernel and any other adapter the workgroup one', () => {
    expect(chooseMatvecKernel(adapterReport(true))).toBe('direct');
    expect(chooseMatvecKernel(adapterReport(false))).toBe('workgroup');
  });

  it('keeps a kernel the caller names, on either adapter, and refuses one that does not exist', () => {
    for (const fallback of [true, false]) {
      expect(matvecKernelFor('matvec', adapterReport(fallback), 'workgroup')).toBe('workgroup');
      expect(matvecKernelFor('matvec', adapterReport(fallback), 'direct')).toBe('direct');
      expect(matvecKernelFor('matvec', adapterReport(fallback), undefined)).toBe(
        fallback ? 'direct' : 'workgroup',
      );
    }
    expect(() => matvecKernelFor('nmMatvec', adapterReport(true), 'tree' as MatvecKernel)).toThrow(
      /nmMatvec: no kernel named tree/,
    );
  });
});
