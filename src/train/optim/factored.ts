// Dispatch of the rank-1 factored statistics shared by Adafactor and CAME (shaders/train/optim/factored.wgsl):
// row and column EMAs of G² + ε1 or of CAME's instability, formed on the fly, and the dense
// second moment of vectors. Matrices are bound in windows of whole rows; a single row longer than
// one storage binding is a GpuLimitError (one invocation sums all of it).

import body from '../../../shaders/train/optim/factored.wgsl?raw';
import type { Binding, Dispatch, GpuRuntime } from '../../gpu/runtime';
import { rowsPerWindow } from '../../kernels/operands';
import { foldGrid, packParams } from '../../kernels/params';
import { bindWindow, windowCapacity } from '../../kernels/window';
import { withOptimizerParams } from './passes';

export const FACTORED_SHADER = withOptimizerParams(body);

export interface Factors {
  rows: number;
  cols: number;
  g: GPUBuffer;
  /** EMA of row means (rows floats) and of column means (cols floats). */
  r: GPUBuffer;
  c: GPUBuffer;
  beta: number;
}

/** For CAME's instability: the inputs of Û and the updated momentum. */
export interface ResidualInputs {
  m: GPUBuffer;
  /** The second-moment factors Û is formed from. */
  sqR: GPUBuffer;
  sqC: GPUBuffer;
  /** Scalar slots: ΣR at `slot`, ΣÛ² at `slot + 1`. */
  scalars: GPUBuffer;
  slot: number;
  clipThreshold: number;
}

/**
 * Updates f.r and f.c with the row and column means of X = G² + eps (without `residual`) or
 * X = (Û − M)² + eps (with it).
 */
export async function factoredEma(
  rt: GpuRuntime,
  f: Factors,
  eps: number,
  residual?: ResidualInputs,
): Promise<void> {
  const { rows, cols } = f;
  const align = rt.limits.minStorageBufferOffsetAlignment;
  const capacity = windowCapacity(rt.limits.maxStorageBufferBindingSize, align);
  const maxGroups = rt.limits.maxComputeWorkgroupsPerDimension;
  const perWindow = Math.min(
    rowsPerWindow('factored moments', 'row', capacity, cols, cols),
    maxGroups * maxGroups,
  );
  const kind = residual ? 'res' : 'sq';
  const rowPipeline = await rt.pipeline({
    name: 'factored',
    code: FACTORED_SHADER,
    entryPoint: `row_${kind}`,
  });
  const colPipeline = await rt.pipeline({
    name: 'factored',
    code: FACTORED_SHADER,
    entryPoint: `col_${kind}`,
  });
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < rows; r0 += perWindow) {
    const n = Math.min(perWindow, rows - r0);
    const g = bindWindow(f.g, r0 * cols, n * cols, align);
    const m = residual ? bindWindow(residual.m, r0 * cols, n * cols, align) : null;
    for (const [pipeline, target, length, beta, groups] of [
      [rowPipeline, f.r, cols, f.beta, Math.ceil(n / 64)],
      [colPipeline, f.c, rows, r0 === 0 ? f.beta : 1, Math.ceil(cols / 256)],
    ] as const) {
      const storage: Binding[] = residual
        ? [
            g.binding,
            (m as { binding: Binding }).binding,
            residual.sqR,
            residual.sqC,
            residual.scalars,
            target,
          ]
        : [g.binding, target];
      const offsets = residual ? [g.base, (m as { base: number }).base, 0, 0, residual.slot, 0] : [g.base, 0];
      dispatches.push({
        pipeline,
        uniforms: packParams([
          ['u32', n],
          ['u32', r0],
          ['u32', cols],
          ['u32', 0],
          ...Array.from({ length: 8 }, (_, i): ['u32', number] => ['u32', offsets[i] ?? 0]),
          ['f32', beta],
          ['f32', (1 - f.beta) / length],
          ['f32', eps],
          ['f32', 1 / rows],
          ['f32', 1 / (rows * cols)],
          ['f32', residual?.clipThreshold ?? 0],
          ...Array.from({ length: 6 }, (): ['f32', number] => ['f32', 0]),
        ]),
        storage,
        workgroups: foldGrid(groups, maxGroups),
      });
    }
  }
  rt.submit(dispatches);
}
