// SparseGPT (Frantar & Alistarh 2023), as the reference code runs it (spec §5.4): the Hessian
// H = Σ x xᵀ with dead inputs fixed and damping, U = the upper Cholesky factor of H⁻¹ (float64 on
// the CPU, cholesky.ts), then a sweep over blocks of columns on the GPU: each column is pruned
// (or kept), and its error, divided by U_ii, is spread over the row's later columns along U's row
// i. Unstructured masks are chosen once per block over all its rows and columns (the "adaptive
// mask"); N:M masks during the sweep from the updated weights.

import shader from '../../shaders/sparsegpt.wgsl?raw';
import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { matmul } from '../kernels/matmul';
import { foldGrid, packParams } from '../kernels/params';
import { windowCapacity } from '../kernels/window';
import { cholesky, inverseFromCholesky, NotPositiveDefiniteError, upperCholesky } from './cholesky';
import { applyKeep, rowMask } from './masks';
import type { SparseGptOptions, SparsityPattern } from './options';

export interface SparseGptArgs {
  /** rows × cols weights (out × in, row-major), pruned in place. */
  w: GPUBuffer;
  rows: number;
  cols: number;
  /** cols × cols Gram Σ_t x_t x_tᵀ of the operator's inputs (any positive scale). Not modified. */
  hessian: GPUBuffer;
  pattern: SparsityPattern;
  options: SparseGptOptions;
  signal?: AbortSignal;
}

export interface SparseGptResult {
  /** The damping finally used, as a fraction of the mean diagonal (percdamp, or more after retries). */
  damping: number;
  /** Inputs whose Hessian diagonal was 0 (their weight columns are zeroed). */
  deadColumns: number;
}

/** Damping is raised ×10 this many times before giving up. */
const DAMPING_RETRIES = 4;

export class SingularHessianError extends Error {
  override name = 'SingularHessianError';
}

export async function sparseGpt(rt: GpuRuntime, args: SparseGptArgs): Promise<SparseGptResult> {
  const { rows, cols, pattern } = args;
  const { percdamp, blocksize } = args.options;
  if (pattern.kind === 'nm' && pattern.m > 32)
    throw new RangeError(`SparseGPT's N:M sweep supports M ≤ 32, got ${pattern.m}`);
  if (pattern.kind === 'nm' && (cols % pattern.m !== 0 || blocksize % pattern.m !== 0))
    throw new RangeError(
      `N:M with M = ${pattern.m} needs M to divide the ${cols} inputs and the block size ${blocksize}`,
    );
  const capacity = windowCapacity(
    rt.limits.maxStorageBufferBindingSize,
    rt.limits.minStorageBufferOffsetAlignment,
  );
  if (rows * cols > capacity || cols * cols > capacity)
    throw new RangeError(
      `SparseGPT binds the ${rows}×${cols} weights and the ${cols}×${cols} inverse Hessian whole; ` +
        `this device binds at most ${capacity} floats`,
    );

  // The Hessian in f64, with dead inputs (never non-zero in the calibration data) made harmless.
  const h = Float64Array.from(await rt.readF32(args.hessian, 0, 4 * cols * cols));
  const dead: number[] = [];
  for (let i = 0; i < cols; i++) {
    if ((h[i * cols + i] as number) === 0) {
      dead.push(i);
      h[i * cols + i] = 1;
    }
  }
  let mean = 0;
  for (let i = 0; i < cols; i++) mean += h[i * cols + i] as number;
  mean /= cols;
  let damping = percdamp;
  let u: Float64Array | null = null;
  for (let attempt = 0; attempt <= DAMPING_RETRIES && !u; attempt++, damping *= 10) {
    const damped = Float64Array.from(h);
    for (let i = 0; i < cols; i++) damped[i * cols + i] = (damped[i * cols + i] as number) + damping * mean;
    try {
      u = upperCholesky(inverseFromCholesky(cholesky(damped, cols), cols), cols);
      break;
    } catch (error) {
      if (!(error instanceof NotPositiveDefiniteError)) throw error;
    }
  }
  if (!u) {
    throw new SingularHessianError(
      `the Hessian is not positive definite even with damping ${(damping / 10).toExponential(1)} × its mean diagonal: ` +
        'use more calibration data, or a larger SparseGPT damping',
    );
  }

  const owned: TrackedBuffer[] = [];
  const scratch = async (label: string, data: Float32Array | Uint32Array | number) => {
    const b =
      typeof data === 'number'
        ? await rt.createBuffer(label, 'scratch', data)
        : await rt.upload(label, 'scratch', data);
    owned.push(b);
    return b.buffer;
  };
  try {
    if (dead.length > 0) {
      const keep = new Uint32Array(rows * cols).fill(1);
      for (let r = 0; r < rows; r++) for (const i of dead) keep[r * cols + i] = 0;
      await applyKeep(rt, { w: args.w, keep: await scratch('dead columns', keep), count: rows * cols });
    }
    const uBuffer = await scratch('SparseGPT U = chol(H⁻¹)ᵀ', Float32Array.from(u));
    const width = Math.min(blocksize, cols);
    const err = await scratch('SparseGPT errors', 4 * rows * width);
    const keep = await scratch('SparseGPT block mask', 4 * rows * width);
    const scores = await scratch('SparseGPT block scores', 4 * rows * width);
    const sweep = await rt.pipeline({ name: 'sparsegpt', code: shader, entryPoint: 'sweep' });
    const blockScores = await rt.pipeline({ name: 'sparsegpt', code: shader, entryPoint: 'block_scores' });
    const workgroups = foldGrid(Math.ceil(rows / 64), rt.limits.maxComputeWorkgroupsPerDimension);
    for (let c0 = 0; c0 < cols; c0 += blocksize) {
      args.signal?.throwIfAborted();
      const b = Math.min(blocksize, cols - c0);
      const params = packParams([
        ['u32', rows],
        ['u32', cols],
        ['u32', c0],
        ['u32', b],
        ['u32', pattern.kind === 'nm' ? 1 : 0],
        ['u32', pattern.kind === 'nm' ? pattern.n : 0],
        ['u32', pattern.kind === 'nm' ? pattern.m : 1],
      ]);
      if (pattern.kind === 'unstructured') {
        rt.submit([
          { pipeline: blockScores, uniforms: params, storage: [args.w, uBuffer, scores], workgroups },
        ]);
        // One selection over all rows × b columns of the block. The reference prunes
        // score ≤ sorted[⌊numel·s⌋], one more on an exact tie; we prune exactly ⌊numel·s⌋.
        await rowMask(rt, {
          scores,
          keep,
          rows: 1,
          cols: rows * b,
          prune: Math.floor(rows * b * pattern.sparsity),
        });
      }
      rt.submit([{ pipeline: sweep, uniforms: params, storage: [args.w, uBuffer, keep, err], workgroups }]);
      if (c0 + b < cols) {
        // The block's errors move every later column: W[:, c0+b:] −= Err · U[c0:c0+b, c0+b:].
        await matmul(rt, {
          a: err,
          b: uBuffer,
          c: args.w,
          m: rows,
          n: cols - c0 - b,
          k: b,
          lda: width,
          ldb: cols,
          ldc: cols,
          offsetB: c0 * cols + c0 + b,
          offsetC: c0 + b,
          alpha: -1,
          beta: 1,
        });
      }
    }
    return { damping, deadColumns: dead.length };
  } finally {
    for (const b of owned) b.destroy();
  }
}
