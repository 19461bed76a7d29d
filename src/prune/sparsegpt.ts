// SparseGPT (Frantar & Alistarh 2023), as the reference code's fasterprune runs it (spec §5.4):
// the Hessian H = Σ x xᵀ with dead inputs fixed and damped, U = the upper Cholesky factor of H⁻¹
// (float64 on the CPU, cholesky.ts), then a sweep over blocks of columns on the GPU
// (shaders/sparsegpt.wgsl): each column is pruned or kept, and its error, divided by U_ii, is spread
// over the row's later columns along U's row i. Unstructured masks are chosen once per block over
// all its rows and columns (the "adaptive mask"); N:M masks during the sweep from the updated
// weights.
//
// Limits: W and the block's scratch are bound in windows of rows, so any W the buffers hold works;
// U is uploaded one block of rows at a time (blocksize × cols floats must fit one binding), and an
// unstructured block is ranked as one row of rows × blocksize scores, which must fit one binding
// too. Both are checked before the CPU factorization starts, with a message that says what to
// lower. The CPU factorization costs about cols³/3 multiply-adds (about a second at cols = 1536,
// half a minute at 4096 in Node), blocks the calling thread meanwhile, and holds about four
// cols × cols f64 arrays at its peak (0.5 GB at 4096).

import shader from '../../shaders/sparsegpt.wgsl?raw';
import { GpuLimitError } from '../gpu/errors';
import type { TrackedBuffer } from '../gpu/ledger';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { matmul } from '../kernels/matmul';
import { checkDistinct, checkInteger, checkMatrix, rowsPerWindow } from '../kernels/operands';
import { foldGrid, packParams } from '../kernels/params';
import { bindWindow, span, windowCapacity } from '../kernels/window';
import { NotPositiveDefiniteError, upperFactorOfInverse } from './cholesky';
import { NM_MAX_M, rowMask } from './masks';
import type { SparseGptOptions, SparsityPattern } from './options';

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

/** A failed Cholesky is retried with the damping ×10 this many times before giving up. */
export const DAMPING_RETRIES = 4;

/** The damped Hessian was not positive definite at any damping tried. */
export class SingularHessianError extends Error {
  override name = 'SingularHessianError';
}

const GROUP = 64;

export async function sparseGpt(rt: GpuRuntime, args: SparseGptArgs): Promise<SparseGptResult> {
  const { w, rows, cols, hessian, pattern, signal } = args;
  const { percdamp, blocksize } = args.options;
  checkInteger('sparseGpt', 'rows', rows);
  checkInteger('sparseGpt', 'cols', cols);
  checkInteger('sparseGpt', 'blocksize', blocksize, 1);
  if (!(Number.isFinite(percdamp) && percdamp > 0))
    throw new RangeError(`sparseGpt: the damping fraction must be a finite number > 0, got ${percdamp}`);
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
  checkMatrix('sparseGpt', 'w', w, rows, cols, cols, 0);
  checkMatrix('sparseGpt', 'hessian', hessian, cols, cols, cols, 0);
  checkDistinct('sparseGpt', ['w', w], ['hessian', hessian]);
  signal?.throwIfAborted();
  if (rows === 0 || cols === 0) return { damping: percdamp, deadColumns: 0 };

  const limits = rt.limits;
  const align = limits.minStorageBufferOffsetAlignment;
  const capacity = windowCapacity(limits.maxStorageBufferBindingSize, align);
  const width = Math.min(blocksize, cols);
  // Checked before the (slow) factorization, so that a refused shape costs nothing.
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
  // Rows of W per window: the sweep spans width columns of each, zero_columns whole rows.
  const blockRows = Math.min(rows, rowsPerWindow('sparseGpt', 'row', capacity, width, cols));
  const wholeRows = Math.min(rows, rowsPerWindow('sparseGpt', 'row', capacity, cols, cols));

  // The Hessian in f64, with dead inputs (never non-zero in the calibration data) made harmless.
  const h = Float64Array.from(await rt.readF32(hessian, 0, 4 * cols * cols));
  for (let i = 0; i < h.length; i++) {
    if (!Number.isFinite(h[i] as number)) {
      throw new RangeError(
        `sparseGpt: the Hessian holds ${h[i]} at (${Math.floor(i / cols)}, ${i % cols}); ` +
          'the calibration statistics overflowed or hold NaN, so check the calibration inputs',
      );
    }
  }
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
  const tried: number[] = [];
  let u: Float64Array | null = null;
  for (let attempt = 0; attempt <= DAMPING_RETRIES && !u; attempt++) {
    const damping = percdamp * 10 ** attempt;
    tried.push(damping);
    const add = damping * mean;
    for (let i = 0; i < cols; i++) h[i * cols + i] = (h[i * cols + i] as number) + add;
    try {
      u = upperFactorOfInverse(h, cols);
    } catch (error) {
      if (!(error instanceof NotPositiveDefiniteError)) throw error;
      for (let i = 0; i < cols; i++) h[i * cols + i] = (h[i * cols + i] as number) - add;
    }
  }
  const damping = tried[tried.length - 1] as number;
  if (!u) {
    throw new SingularHessianError(
      `SparseGPT: the ${cols}×${cols} Hessian is not positive definite even with damping ` +
        `${tried.map((d) => String(Number(d.toPrecision(3)))).join(', ')} × its mean diagonal (${mean.toPrecision(3)}); ` +
        'calibrate on more data (more tokens than inputs), or set a larger SparseGPT damping (percdamp)',
    );
  }
  const uF32 = Float32Array.from(u);
  u = null;

  const owned: TrackedBuffer[] = [];
  const scratch = async (label: string, bytes: number) => {
    const b = await rt.createBuffer(label, 'scratch', bytes);
    owned.push(b);
    return b.buffer;
  };
  try {
    const maxGroups = limits.maxComputeWorkgroupsPerDimension;
    const grid = (n: number) => foldGrid(Math.ceil(n / GROUP), maxGroups);
    if (dead.length > 0) {
      const list = await scratch('SparseGPT dead inputs', 4 * dead.length);
      rt.write(list, Uint32Array.from(dead));
      const pipeline = await rt.pipeline({ name: 'sparsegpt', code: shader, entryPoint: 'zero_columns' });
      const dispatches: Dispatch[] = [];
      for (let r0 = 0; r0 < rows; r0 += wholeRows) {
        const rb = Math.min(wholeRows, rows - r0);
        const win = bindWindow(w, r0 * cols, span(rb, cols, cols), align);
        dispatches.push({
          pipeline,
          uniforms: params({ rows: rb, ld: cols, wBase: win.base, count: dead.length }),
          storage: [win.binding, list],
          workgroups: grid(rb),
        });
      }
      rt.submit(dispatches);
    }

    const strip = await scratch('SparseGPT U block rows', 4 * width * cols);
    const err = await scratch('SparseGPT block errors', 4 * rows * width);
    const unstructured = pattern.kind === 'unstructured';
    const keep = await scratch('SparseGPT block mask', unstructured ? 4 * rows * width : 4);
    const scores = unstructured ? await scratch('SparseGPT block scores', 4 * rows * width) : null;
    const sweep = await rt.pipeline({ name: 'sparsegpt', code: shader, entryPoint: 'sweep' });
    const blockScores = await rt.pipeline({ name: 'sparsegpt', code: shader, entryPoint: 'block_scores' });

    for (let c0 = 0; c0 < cols; c0 += blocksize) {
      signal?.throwIfAborted();
      const b = Math.min(blocksize, cols - c0);
      // U's rows c0 .. c0+b−1, whole (the entries left of the diagonal are 0 and never read). The
      // write is queued after the previous block's matmul, which still reads the old rows.
      rt.write(strip, uF32.subarray(c0 * cols, (c0 + b) * cols));
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
              c0,
              wBase: win.base,
              eBase,
              nm: pattern.kind === 'nm' ? 1 : 0,
              n: pattern.kind === 'nm' ? pattern.n : 0,
              m: pattern.kind === 'nm' ? pattern.m : 1,
            }),
            storage: [win.binding, strip, ...bindings],
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
          b: strip,
          c: w,
          m: rows,
          n: cols - c0 - b,
          k: b,
          lda: b,
          ldb: cols,
          ldc: cols,
          offsetB: c0 + b,
          offsetC: c0 + b,
          alpha: -1,
          beta: 1,
        });
      }
    }
    return { damping, deadColumns: dead.length };
  } finally {
    for (const buffer of owned) buffer.destroy();
  }
}

interface SweepParams {
  rows: number;
  ld: number;
  width?: number;
  c0?: number;
  wBase: number;
  eBase?: number;
  nm?: number;
  n?: number;
  m?: number;
  count?: number;
}

function params(q: SweepParams): ArrayBuffer {
  return packParams([
    ['u32', q.rows],
    ['u32', q.ld],
    ['u32', q.width ?? 0],
    ['u32', q.c0 ?? 0],
    ['u32', q.wBase],
    ['u32', q.eBase ?? 0],
    ['u32', q.nm ?? 0],
    ['u32', q.n ?? 0],
    ['u32', q.m ?? 1],
    ['u32', q.count ?? 0],
  ]);
}
