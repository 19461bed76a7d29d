// Dispatch of the rank-1 factored statistics shared by Adafactor and CAME (shaders/train/optim/factored.wgsl):
// row and column EMAs of G² + ε1 or of CAME's instability, formed on the fly, and the dense
// second moment of vectors. Matrices are bound in windows of whole rows; a single row longer than
// one storage binding is a GpuLimitError (one invocation sums all of it).

import body from '../../../shaders/train/optim/factored.wgsl?raw';
import type { Binding, Dispatch, GpuRuntime } from '../../gpu/runtime';
import { defineKernel } from '../../kernels/kernel';
import { rowsPerWindow } from '../../kernels/operands';
import { foldGrid } from '../../kernels/params';
import { bindWindow, windowLimits } from '../../kernels/window';
import { withOptimizerCommon } from './passes';

const module = { name: 'factored', code: withOptimizerCommon(body) } as const;

/** The entry points of shaders/train/optim/factored.wgsl, by uniform block. */
export const factoredKernels = {
  /** Row and column EMAs of G² + ε1. */
  sq: defineKernel({
    ...module,
    entryPoints: ['row_sq', 'col_sq'],
    uniforms: {
      n: 'u32',
      start: 'u32',
      cols: 'u32',
      g: 'u32',
      dest: 'u32',
      beta: 'f32',
      weight: 'f32',
      eps: 'f32',
    },
  }),
  /** Row and column EMAs of CAME's instability. */
  res: defineKernel({
    ...module,
    entryPoints: ['row_res', 'col_res'],
    uniforms: {
      n: 'u32',
      start: 'u32',
      cols: 'u32',
      g: 'u32',
      m: 'u32',
      r: 'u32',
      c: 'u32',
      slot: 'u32',
      dest: 'u32',
      beta: 'f32',
      weight: 'f32',
      eps: 'f32',
      inv_rows: 'f32',
      inv_count: 'f32',
      d: 'f32',
    },
  }),
  /** Partial sums of Û² of a factored parameter. */
  u2: defineKernel({
    ...module,
    entryPoints: ['factored_u2'],
    uniforms: {
      n: 'u32',
      start: 'u32',
      cols: 'u32',
      pbase: 'u32',
      g: 'u32',
      r: 'u32',
      c: 'u32',
      slot: 'u32',
      inv_rows: 'f32',
    },
  }),
  /** A vector's second moment in place, and partial sums of its Û². */
  dense: defineKernel({
    ...module,
    entryPoints: ['dense_sq'],
    uniforms: {
      n: 'u32',
      pbase: 'u32',
      g: 'u32',
      v: 'u32',
      beta: 'f32',
      one_minus_beta: 'f32',
      eps: 'f32',
    },
  }),
};

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
  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const perWindow = Math.min(
    rowsPerWindow('factored moments', 'row', capacity, cols, cols),
    maxGroups * maxGroups,
  );
  const { sq, res } = factoredKernels;
  const rowPipeline = await (residual ? res.pipeline(rt, 'row_res') : sq.pipeline(rt, 'row_sq'));
  const colPipeline = await (residual ? res.pipeline(rt, 'col_res') : sq.pipeline(rt, 'col_sq'));
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
      const common = { n, start: r0, cols, g: g.base, dest: 0, beta, weight: (1 - f.beta) / length, eps };
      dispatches.push({
        pipeline,
        uniforms: residual
          ? factoredKernels.res.pack({
              ...common,
              m: (m as { base: number }).base,
              r: 0,
              c: 0,
              slot: residual.slot,
              inv_rows: 1 / rows,
              inv_count: 1 / (rows * cols),
              d: residual.clipThreshold,
            })
          : factoredKernels.sq.pack(common),
        storage,
        workgroups: foldGrid(groups, maxGroups),
      });
    }
  }
  rt.submit(dispatches);
}
