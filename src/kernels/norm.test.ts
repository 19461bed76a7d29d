import { describe, expect, it } from 'vitest';
import { GpuLimitError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { withNodeRuntime } from '../host/testRuntimes';
import { norm } from './norm';
import { NORM_KERNELS } from './normKernel';
import { Random } from './random';
import { relativeError } from './reference';
import { layerNormReference, normBound, rmsNormReference } from './reference.model';
import { scratch } from './testing';

describe('LayerNorm and RMSNorm', () => {
  let rt: GpuRuntime;
  withNodeRuntime((made) => {
    rt = made;
  });

  it('reads and writes strided rows at offsets, leaving the padding alone', async () => {
    const rows = 5;
    const width = 67;
    const ldX = 80;
    const ldY = 70;
    const random = new Random(11);
    const xs = random.uniform(3 + rows * ldX, -2, 2);
    const g = random.uniform(width + 1);
    const b = random.uniform(width + 2);
    const before = new Float32Array(4 + rows * ldY).fill(42);
    const packed = new Float32Array(rows * width);
    for (let r = 0; r < rows; r++) packed.set(xs.subarray(3 + r * ldX, 3 + r * ldX + width), r * width);
    for (const [kind, kernel] of (['layer', 'rms'] as const).flatMap((kind) =>
      NORM_KERNELS.map((kernel) => [kind, kernel] as const),
    )) {
      const y = await scratch(rt, before);
      await norm(rt, {
        kind,
        x: await scratch(rt, xs),
        y,
        weight: await scratch(rt, g),
        bias: kind === 'layer' ? await scratch(rt, b) : undefined,
        rows,
        width,
        ldX,
        ldY,
        offsetX: 3,
        offsetY: 4,
        offsetWeight: 1,
        offsetBias: 2,
        eps: 1e-6,
        kernel,
      });
      const got = await rt.readF32(y);
      const rowsOut = new Float32Array(rows * width);
      for (let r = 0; r < rows; r++) {
        rowsOut.set(got.subarray(4 + r * ldY, 4 + r * ldY + width), r * width);
        expect(
          got.subarray(4 + r * ldY + width, 4 + (r + 1) * ldY).every((v) => v === 42),
          kernel,
        ).toBe(true);
      }
      expect(Array.from(got.subarray(0, 4))).toEqual([42, 42, 42, 42]);
      const reference =
        kind === 'layer'
          ? layerNormReference(packed, rows, width, g.subarray(1), b.subarray(2), 1e-6)
          : rmsNormReference(packed, rows, width, g.subarray(1), 1e-6);
      expect(relativeError(rowsOut, reference), `${kind} ${kernel}`).toBeLessThanOrEqual(
        normBound(width, kernel),
      );
    }
  });

  it('refuses a row wider than one binding with a limit error, and wrong arguments with RangeErrors', async () => {
    const tiny = await createNodeRuntime({ capLimits: { maxStorageBufferBindingSize: 2048 } });
    try {
      const x = await scratch(tiny, new Float32Array(1000));
      const y = await scratch(tiny, new Float32Array(1000));
      const g = await scratch(tiny, new Float32Array(1000));
      const run = norm(tiny, { kind: 'rms', x, y, weight: g, rows: 1, width: 1000 });
      await expect(run).rejects.toBeInstanceOf(GpuLimitError);
      await expect(norm(tiny, { kind: 'rms', x, y, weight: g, rows: 1, width: 1000 })).rejects.toThrow(
        /rmsNorm: a row of 1000 elements .* does not fit one storage binding/,
      );
    } finally {
      tiny.destroy();
    }
    const x = await scratch(rt, new Float32Array(60));
    const y = await scratch(rt, new Float32Array(60));
    const g = await scratch(rt, new Float32Array(10));
    const base = { x, y, weight: g, rows: 6, width: 10 };
    await expect(norm(rt, { ...base, kind: 'layer' })).rejects.toThrow(/layerNorm: bias is required/);
    await expect(norm(rt, { ...base, kind: 'rms', bias: g })).rejects.toThrow(/rmsNorm: takes no bias/);
    await expect(norm(rt, { ...base, kind: 'rms', rows: 7 })).rejects.toThrow(
      /rmsNorm: x \(7×10.* needs 280 bytes/,
    );
    await expect(norm(rt, { ...base, kind: 'rms', width: 11, rows: 5 })).rejects.toThrow(/rmsNorm: weight/);
    await expect(norm(rt, { ...base, kind: 'rms', y: x })).rejects.toThrow(
      /y must be a different buffer from x/,
    );
    await expect(norm(rt, { ...base, kind: 'rms', eps: -1 })).rejects.toThrow(/eps must be ≥ 0/);
    await expect(norm(rt, { ...base, kind: 'rms', width: 0 })).rejects.toThrow(
      /width must be an integer ≥ 1/,
    );
  });
});
