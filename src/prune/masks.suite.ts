// The pruning masks' cases for the kernel suite (src/kernels/suiteCase.ts): exact, so the error
// must be 0. The worker's kernel check runs them after the kernels' own cases.

import type { GpuRuntime } from '../gpu/runtime';
import { Buffers, defineCase, type KernelCase, u32Bytes } from '../kernels/suiteCase';
import { nmMask, rowMask } from './masks';
import { nmMaskReference, rowMaskReference } from './masks.reference';

/** 'check' at the device's limits; 'tiled' small enough to split under a tiny binding limit. */
export function maskKernelCases(size: 'check' | 'tiled' = 'check'): KernelCase[] {
  return size === 'tiled'
    ? [rowMaskCase(13, 100, 41), nmMaskCase(7, 96, 1, 2)]
    : [rowMaskCase(37, 129, 64), nmMaskCase(37, 128, 2, 4)];
}

/** Scores that are small integers 0..4 (so most thresholds fall among ties), and a mask read as 0/1 floats. */
function maskCase(
  name: string,
  shape: string,
  rows: number,
  cols: number,
  run: (rt: GpuRuntime, scores: GPUBuffer, keep: GPUBuffer) => Promise<void>,
  reference: (scores: Float32Array) => Uint32Array,
): KernelCase {
  return defineCase(name, 'mask', shape, async (rt, random) => {
    const buffers = new Buffers(rt);
    const scores = random.integers(rows * cols, 4).map(Math.abs);
    // Neither 0 nor 1: an entry the kernel fails to write shows as an error.
    const poison = u32Bytes(new Uint32Array(rows * cols).fill(7));
    const scoresBuf = await buffers.upload('scores', scores);
    const keepBuf = await buffers.upload('keep', poison);
    const again = () => run(rt, scoresBuf, keepBuf);
    return {
      async check() {
        rt.write(keepBuf, poison);
        await again();
        return Float32Array.from(new Uint32Array(await rt.read(keepBuf)));
      },
      again,
      reference: {
        value: Float64Array.from(reference(scores)),
        scale: new Float64Array(rows * cols).fill(1),
      },
      bound: 0,
      flops: 0,
      bytes: 8 * rows * cols,
      free: () => buffers.free(),
    };
  });
}

function rowMaskCase(rows: number, cols: number, prune: number): KernelCase {
  return maskCase(
    'row mask (ties)',
    `${rows}×${cols}, prune ${prune} per row`,
    rows,
    cols,
    (rt, scores, keep) => rowMask(rt, { scores, keep, rows, cols, prune }),
    (scores) => rowMaskReference(scores, rows, cols, prune),
  );
}

function nmMaskCase(rows: number, cols: number, n: number, m: number): KernelCase {
  return maskCase(
    `${n}:${m} mask (ties)`,
    `${rows}×${cols}`,
    rows,
    cols,
    (rt, scores, keep) => nmMask(rt, { scores, keep, rows, cols, n, m }),
    (scores) => nmMaskReference(scores, rows, cols, n, m),
  );
}
