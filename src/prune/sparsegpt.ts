// SparseGPT (Frantar & Alistarh 2023), as the reference code's fasterprune runs it (docs/pruning.md),
// all on the GPU: the Hessian H = Σ x xᵀ with dead inputs fixed and damped, U = the upper Cholesky factor
// of H⁻¹ in f32 (hessianFactor.ts, shaders/prune/cholesky.wgsl; once per operator group, since the
// operators of a group share their inputs), then a sweep over blocks of columns
// (shaders/prune/sparsegpt.wgsl): each column is pruned or kept, and its error, divided by U_ii, is spread
// over the row's later columns along U's row i. Unstructured masks are chosen once per block over
// all its rows and columns (the "adaptive mask"); N:M masks during the sweep from the updated
// weights. The sweep reads nothing back; the factor reads back one 32-byte status record per
// damping attempt.
//
// Limits: W and the block's scratch are bound in windows of rows, so any W the buffers hold works;
// the sweep binds a block of U's rows whole (blocksize × cols floats must fit one binding), and an
// unstructured block is ranked as one row of rows × blocksize scores, which must fit one binding
// too. Both are checked before the factorization starts, with a message that says what to lower.

import shader from '../../shaders/prune/sparsegpt.wgsl?raw';
import { GpuLimitError } from '../gpu/errors';
import type { TrackedBuffer } from '../gpu/ledger';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from '../kernels/kernel';
import { matmul } from '../kernels/matmul';
import { checkDistinct, checkInteger, checkMatrix, rowsPerWindow } from '../kernels/operands';
import { foldGrid } from '../kernels/params';
import { bindWindow, span, windowLimits } from '../kernels/window';
import { checkFactorFits, factorHessian, type HessianFactor } from './hessianFactor';
import { rowMask } from './masks';
import type { SparseGptOptions, SparsityPattern } from './options';
import { NM_MAX_M } from './options';

const sparsegptKernel = defineKernel({
  name: 'sparsegpt',
  code: shader,
  entryPoints: ['zero_columns', 'block_scores', 'sweep'],
  uniforms: {
    rows: 'u32',
    ld: 'u32',
    width: 'u32',
    u_base: 'u32',
    w_base: 'u32',
    e_base: 'u32',
    nm: 'u32',
    n: 'u32',
    m: 'u32',
  },
});

export interface SparseGptArgs {
  /** rows × cols weights (out × in, row-major), pruned in place. */
  w: GPUBuffer;
  rows: number;
  cols: number;
  /**
   * cols × cols Gram Σ_t x_t x_tᵀ of the operator's inputs (any positive scale; SparseGPT's 2/N
   * factor does not change the result). Not modified.
   */
  hessian: GPUBuffer;
  pattern: SparsityPattern;
  options: SparseGptOptions;
  signal?: AbortSignal;
}

export interface SparseGptResult {
  /** The damping that was finally used, as a fraction of the mean diagonal (percdamp, or more after retries). */
  damping: number;
  /** Inputs whose Hessian diagonal was 0 (their weight columns are zeroed). */
  deadColumns: number;
}

export { DAMPING_RETRIES, SingularHessianError } from './hessianFactor';

const GROUP = 64;

export async function sparseGpt(rt: GpuRuntime, args: SparseGptArgs): Promise<SparseGptResult> {
  const { w, rows, cols, hessian, pattern, signal } = args;
  const { percdamp, blocksize } = args.options;
  if (!(Number.isFinite(percdamp) && percdamp > 0))
    throw new RangeError(`sparseGpt: the damping fraction must be a finite number > 0, got ${percdamp}`);
  checkSweep(rt, { w, rows, cols, pattern, blocksize });
  checkMatrix('sparseGpt', 'hessian', hessian, cols, cols, cols, 0);
  checkDistinct('sparseGpt', ['w', w], ['hessian', hessian]);
  signal?.throwIfAborted();
  if (rows === 0 || cols === 0) return { damping: percdamp, deadColumns: 0 };
  const factor = await factorHessian(rt, { hessian, cols, percdamp, signal });
  try {
    await sparseGptSweep(rt, { w, rows, cols, factor, pattern, blocksize, signal });
    return { damping: factor.damping, deadColumns: factor.deadColumns };
  } finally {
    factor.destroy();
  }
}

export interface SparseGptSweepArgs {
  /** rows × cols weights (out × in, row-major), pruned in place. */
  w: GPUBuffer;
  rows: number;
  cols: number;
  /** The factor of the Hessian of this operator's inputs (factorHessian), cols wide. */
  factor: HessianFactor;
  pattern: SparsityPattern;
  blocksize: number;
  signal?: AbortSignal;
}

interface SweepShape {
  w: GPUBuffer;
  rows: number;
  cols: number;
  pattern: SparsityPattern;
  blocksize: number;
}

/**
 * Throws, before any work, what sparseGptSweep would refuse: a bad pattern or block size (RangeError),
 * or a block of the sweep that cannot fit one storage binding (GpuLimitError, saying what to lower).
 */
export function checkSweep(rt: GpuRuntime, a: SweepShape): void {
  const { rows, cols, pattern, blocksize } = a;
  checkInteger('sparseGpt', 'rows', rows);
  checkInteger('sparseGpt', 'cols', cols);
  checkInteger('sparseGpt', 'blocksize', blocksize, 1);
  if (pattern.kind === 'unstructured') {
    if (!(pattern.sparsity >= 0 && pattern.sparsity < 1))
      throw new RangeError(`sparseGpt: sparsity must lie in [0, 1), got ${pattern.sparsity}`);
  } else {
    const { n, m } = pattern;
    if (!Number.isInteger(n) || !Number.isInteger(m) || n < 1 || n >= m || m > NM_MAX_M)
      throw new RangeError(`sparseGpt: N:M needs whole numbers 1 ≤ N < M ≤ ${NM_MAX_M}, got ${n}:${m}`);
    if (cols % m !== 0 || blocksize % m !== 0)
      throw new RangeError(
        `sparseGpt: N:M with M = ${m} needs M to divide the ${cols} inputs and the block size ${blocksize}`,
      );
  }
  checkMatrix('sparseGpt', 'w', a.w, rows, cols, cols, 0);
  if (rows === 0 || cols === 0) return;
  const { capacity } = windowLimits(rt.limits);
  const width = Math.min(blocksize, cols);
  const allowedBlock = (n: number) => (pattern.kind === 'nm' ? Math.floor(n / pattern.m) * pattern.m : n);
  const advice = (most: number) =>
    allowedBlock(most) >= 1
      ? `use a block size of at most ${allowedBlock(most)}`
      : 'this operator is too large for this device';
  if (width * cols > capacity)
    throw new GpuLimitError(
      `sparseGpt: a block of ${width} rows of the ${cols}×${cols} inverse-Hessian factor needs ` +
        `${width * cols * 4} bytes in one storage binding, above this device's ${capacity * 4}; ` +
        advice(Math.floor(capacity / cols)),
    );
  if (pattern.kind === 'unstructured' && rows * width > capacity)
    throw new GpuLimitError(
      `sparseGpt: the adaptive mask ranks a block's ${rows}×${width} scores together, ` +
        `${rows * width * 4} bytes in one storage binding, above this device's ${capacity * 4}; ` +
        advice(Math.floor(capacity / rows)),
    );
  checkFactorFits(rt, cols);
}

/** Prunes one operator with its group's factor: the column sweep, with no read-back. */
export async function sparseGptSweep(rt: GpuRuntime, args: SparseGptSweepArgs): Promise<void> {
  const { w, rows, cols, factor, pattern, blocksize, signal } = args;
  checkSweep(rt, args);
  if (factor.cols !== cols)
    throw new RangeError(`sparseGpt: the factor is ${factor.cols} wide, the weights have ${cols} inputs`);
  signal?.throwIfAborted();
  if (rows === 0 || cols === 0) return;
  const u = factor.u;
  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  // Rows of W per window: the sweep spans blocksize columns of each, zero_columns whole rows.
  const blockRows = Math.min(
    rows,
    rowsPerWindow('sparseGpt', 'row', capacity, Math.min(blocksize, cols), cols),
  );
  const wholeRows = Math.min(rows, rowsPerWindow('sparseGpt', 'row', capacity, cols, cols));

  const owned: TrackedBuffer[] = [];
  const scratch = async (label: string, bytes: number) => {
    const b = await rt.createBuffer(label, 'scratch', bytes);
    owned.push(b);
    return b.buffer;
  };
  try {
    const grid = (n: number) => foldGrid(Math.ceil(n / GROUP), maxGroups);
    if (factor.deadColumns > 0) {
      const pipeline = await sparsegptKernel.pipeline(rt, 'zero_columns');
      const dispatches: Dispatch[] = [];
      for (let r0 = 0; r0 < rows; r0 += wholeRows) {
        const rb = Math.min(wholeRows, rows - r0);
        const win = bindWindow(w, r0 * cols, span(rb, cols, cols), align);
        dispatches.push({
          pipeline,
          uniforms: params({ rows: rb, ld: cols, wBase: win.base }),
          storage: [win.binding, factor.dead],
          workgroups: grid(rb),
        });
      }
      rt.submit(dispatches);
    }

    const width = Math.min(blocksize, cols);
    const err = await scratch('SparseGPT block errors', 4 * rows * width);
    const unstructured = pattern.kind === 'unstructured';
    const keep = await scratch('SparseGPT block mask', unstructured ? 4 * rows * width : 4);
    const scores = unstructured ? await scratch('SparseGPT block scores', 4 * rows * width) : null;
    const sweep = await sparsegptKernel.pipeline(rt, 'sweep');
    const blockScores = await sparsegptKernel.pipeline(rt, 'block_scores');

    for (let c0 = 0; c0 < cols; c0 += blocksize) {
      signal?.throwIfAborted();
      const b = Math.min(blocksize, cols - c0);
      // U's block U[c0:c0+b, c0:c0+b], bound from its first entry.
      const strip = bindWindow(u, c0 * cols + c0, span(b, b, cols), align);
      // One dispatch per window of rows. The packed rows × b scratch (scores, mask, errors) shares
      // one layout, so its windows at row r0 all have the same base.
      const windows = (pipeline: GPUComputePipeline, packed: (GPUBuffer | null)[]) => {
        const out: Dispatch[] = [];
        for (let r0 = 0; r0 < rows; r0 += blockRows) {
          const rb = Math.min(blockRows, rows - r0);
          const win = bindWindow(w, r0 * cols + c0, span(rb, b, cols), align);
          let eBase = 0;
          const bindings = packed.map((buffer) => {
            if (!buffer) return keep; // N:M: the mask is chosen in the sweep; a placeholder binding.
            const pw = bindWindow(buffer, r0 * b, rb * b, align);
            eBase = pw.base;
            return pw.binding;
          });
          out.push({
            pipeline,
            uniforms: params({
              rows: rb,
              ld: cols,
              width: b,
              uBase: strip.base,
              wBase: win.base,
              eBase,
              nm: pattern.kind === 'nm' ? 1 : 0,
              n: pattern.kind === 'nm' ? pattern.n : 0,
              m: pattern.kind === 'nm' ? pattern.m : 1,
            }),
            storage: [win.binding, strip.binding, ...bindings],
            workgroups: grid(rb),
          });
        }
        return out;
      };
      if (scores && pattern.kind === 'unstructured') {
        rt.submit(windows(blockScores, [scores]));
        // One selection over all rows × b columns of the block. The reference prunes
        // score ≤ sorted[⌊numel·s⌋], one more entry on an exact tie at the threshold; we prune
        // exactly ⌊numel·s⌋, ties broken by position (row, then column), lower first.
        await rowMask(rt, {
          scores,
          keep,
          rows: 1,
          cols: rows * b,
          prune: Math.floor(rows * b * pattern.sparsity),
        });
      }
      rt.submit(windows(sweep, [unstructured ? keep : null, err]));
      if (c0 + b < cols) {
        // The block's errors move every later column: W[:, c0+b:] −= Err · U[c0:c0+b, c0+b:].
        await matmul(rt, {
          a: err,
          b: u,
          c: w,
          m: rows,
          n: cols - c0 - b,
          k: b,
          lda: b,
          ldb: cols,
          ldc: cols,
          offsetB: c0 * cols + c0 + b,
          offsetC: c0 + b,
          alpha: -1,
          beta: 1,
        });
      }
    }
  } finally {
    // As the baselines' masks (baselines.ts): the sweep ends without a read-back, so submit before
    // freeing its scratch.
    rt.flush();
    for (const buffer of owned) buffer.destroy();
  }
}

interface SweepParams {
  rows: number;
  ld: number;
  width?: number;
  uBase?: number;
  wBase: number;
  eBase?: number;
  nm?: number;
  n?: number;
  m?: number;
}

function params(q: SweepParams): ArrayBuffer {
  return sparsegptKernel.pack({
    rows: q.rows,
    ld: q.ld,
    width: q.width ?? 0,
    u_base: q.uBase ?? 0,
    w_base: q.wBase,
    e_base: q.eBase ?? 0,
    nm: q.nm ?? 0,
    n: q.n ?? 0,
    m: q.m ?? 1,
  });
}
