import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { chooseMatvecKernel, type MatvecKernel } from '../kernels/matvecKernel';
import { Random } from '../kernels/random';
import { encodeBitmask } from './bitmaskFormat';
import { bitmaskMatvecDispatches } from './bitmaskMatvec';
import { encodeNm } from './nmFormat';
import { nmMatvecDispatches } from './nmMatvec';
import { randomNmDense, randomUnstructuredDense } from './randomSparse';
import { type BitmaskOnGpu, type NmOnGpu, uploadCompressed } from './upload';

describe('the sparse matrix–vector wrappers pick their kernel', () => {
  let rt: GpuRuntime;
  let nm: NmOnGpu;
  let un: BitmaskOnGpu;
  let x: GPUBuffer;
  let y: GPUBuffer;
  // 600 columns: 300 kept values of 2:4 and 19 mask words a row, long enough that the workgroup
  // kernel gives each row a workgroup rather than taking its short-row path.
  const [rows, cols] = [70, 600];
  beforeAll(async () => {
    rt = await createNodeRuntime();
    const random = new Random(7);
    nm = (await uploadCompressed(
      rt,
      encodeNm('W', randomNmDense(random, rows, cols, 2, 4), rows, cols, 2, 4),
      'W',
    )) as NmOnGpu;
    un = (await uploadCompressed(
      rt,
      encodeBitmask('W', randomUnstructuredDense(random, rows, cols, 0.5), rows, cols),
      'W',
    )) as BitmaskOnGpu;
    x = (await rt.createBuffer('x', 'scratch', 4 * cols)).buffer;
    y = (await rt.createBuffer('y', 'scratch', 4 * rows)).buffer;
  });
  afterAll(() => rt.destroy());

  // Rows one workgroup of each direct kernel covers: 16 invocations of 8 rows for 2:4
  // (nm_matvec_direct_24), 64 of one row for the bitmask.
  const directRowsPerGroup = { nmMatvec: 128, bitmaskMatvec: 64 };
  const products = {
    nmMatvec: (kernel?: MatvecKernel) => nmMatvecDispatches(rt, { weights: nm, x, y, kernel }),
    bitmaskMatvec: (kernel?: MatvecKernel) => bitmaskMatvecDispatches(rt, { weights: un, x, y, kernel }),
  };

  for (const [name, product] of Object.entries(products)) {
    it(`${name}: the adapter's kernel when none is named, each named one, and no other`, async () => {
      const [chosen] = await product();
      const [named] = await product(chooseMatvecKernel(rt));
      expect(chosen?.pipeline).toBe(named?.pipeline);
      const [workgroup] = await product('workgroup');
      const [direct] = await product('direct');
      expect(workgroup?.pipeline).not.toBe(direct?.pipeline);
      // A workgroup per row, or many rows a workgroup.
      expect(workgroup?.workgroups[0]).toBe(rows);
      expect(direct?.workgroups[0]).toBe(
        Math.ceil(rows / directRowsPerGroup[name as keyof typeof directRowsPerGroup]),
      );
      await expect(product('tree' as MatvecKernel)).rejects.toThrow(
        new RegExp(`${name}: no kernel named tree`),
      );
    });
  }
});
