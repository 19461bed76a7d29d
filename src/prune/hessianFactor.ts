// SparseGPT's factor of the inverse Hessian on the GPU (shaders/prune/cholesky.wgsl): U, the upper Cholesky
// factor of H⁻¹ for the damped Hessian H with dead inputs fixed, in f32 as the reference code computes
// it, without the Hessian ever reaching the CPU. One factor serves every operator of a group (q, k, v
// share their inputs, so their Hessian), and sparsegpt.ts sweeps each operator with it.
//
// Damping: percdamp × the mean diagonal, raised ×10 up to DAMPING_RETRIES times when a pivot is not
// positive. The GPU records the failure in a small status record with the dead-input and non-finite
// counts; the host reads that record once per attempt (the normal case is one attempt, so one
// read-back per operator group) and decides. A non-finite Hessian is refused after the first
// attempt, naming its first bad entry (one more small read-back, on that error path only).
//
// Cost: the Cholesky and the triangular inverse are n³/3 flops each (n³/6 multiply-adds). The
// trailing updates run on the matmul kernel's symmetric mode (half the tiles) when S fits one
// binding, and on full tiles otherwise; the inverse's products U[0:s, 0:s]·R[0:s, s:e] use full
// tiles (U is triangular), so the kernels do up to twice the counted flops. Memory: the n × n factor
// (kept, category 'statistics', freed by destroy) and an n × 64 panel and a 64 × n block row while factoring.
//
// Limits: S and the panel are bound in windows of rows; a diagonal block is narrowed until it fits
// one binding. The diagonal, the dead-input flags (n floats each) must fit one binding, which holds
// whenever SparseGPT's sweep fits (it binds whole rows of U); checked up front with GpuLimitError.
//
// Precision: f32 rounding makes the computed U the exact factor of a Hessian perturbed by about
// n·2⁻²⁴·‖H‖, so U's relative error grows with the condition number of the damped H (at most about
// 1 + 1/percdamp for a Gram matrix; see hessianFactor.test.ts for the bound the tests use). A
// barely definite H can therefore fail here where float64 would succeed; the damping escalation
// then applies, as in the reference code.

import shader from '../../shaders/prune/cholesky.wgsl?raw';
import { GpuLimitError } from '../gpu/errors';
import type { TrackedBuffer } from '../gpu/ledger';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from '../kernels/kernel';
import { matmulDispatches } from '../kernels/matmul';
import { checkInteger, checkMatrix } from '../kernels/operands';
import { foldGrid } from '../kernels/params';
import { bindWindow, span, windowLimits } from '../kernels/window';

// shaders/prune/cholesky.wgsl's entry points share one uniform block. Each is declared under its own
// name, so that a profile splits the GPU time by kernel (the pipeline's label).
const CHOLESKY_ENTRIES = [
  'check',
  'diagonal',
  'mean',
  'damp',
  'factor_diagonal',
  'panel',
  'zero_lower',
  'invert_diagonal',
  'apply_inverse',
  'take_panel',
] as const;
type CholeskyEntry = (typeof CHOLESKY_ENTRIES)[number];
const choleskyUniforms = {
  n: 'u32',
  rows: 'u32',
  row0: 'u32',
  base: 'u32',
  base2: 'u32',
  width: 'u32',
  ld2: 'u32',
  damping: 'f32',
} as const;
const choleskyKernels = Object.fromEntries(
  CHOLESKY_ENTRIES.map((entry) => [
    entry,
    defineKernel({
      name: `cholesky ${entry}`,
      code: shader,
      entryPoints: [entry],
      uniforms: choleskyUniforms,
    }),
  ]),
) as Record<CholeskyEntry, ReturnType<typeof defineKernel<typeof choleskyUniforms, CholeskyEntry>>>;

/** A failed factorization is retried with the damping ×10 this many times before giving up. */
export const DAMPING_RETRIES = 4;

/** The damped Hessian was not positive definite at any damping tried. */
export class SingularHessianError extends Error {
  override name = 'SingularHessianError';
}

/** Widest diagonal block (the kernels' workgroup arrays hold 64 × 64, the 16 KiB every device has). */
const MAX_BLOCK = 64;

/** Status slots, as shaders/prune/cholesky.wgsl numbers them. */
const FAILED = 0;
const PIVOT = 1;
const PIVOT_VALUE = 2;
const DEAD = 3;
const NON_FINITE = 4;
const FIRST_NON_FINITE = 5;
const MEAN = 6;
const STATUS_SLOTS = 8;

export interface HessianFactor {
  /** cols × cols, row-major: U in the upper triangle, zeros below. */
  u: GPUBuffer;
  /** cols u32 flags: 1 where the input is dead (its Hessian diagonal was 0). */
  dead: GPUBuffer;
  cols: number;
  /** The damping finally used, as a fraction of the mean diagonal (percdamp, or more after retries). */
  damping: number;
  /** How many inputs are dead (their weight columns are zeroed by the sweep). */
  deadColumns: number;
  destroy(): void;
}

export interface FactorHessianArgs {
  /** cols × cols symmetric Gram of the inputs (only the upper triangle is read). Not modified. */
  hessian: GPUBuffer;
  cols: number;
  /** Damping as a fraction of the mean diagonal. */
  percdamp: number;
  signal?: AbortSignal;
}

/** Throws GpuLimitError when factorHessian cannot run at this width on this device. */
export function checkFactorFits(rt: GpuRuntime, cols: number): void {
  const { capacity } = windowLimits(rt.limits);
  if (cols > capacity)
    throw new GpuLimitError(
      `SparseGPT: the Hessian's diagonal (${cols} inputs, ${4 * cols} bytes) must fit one storage ` +
        `binding, above this device's ${4 * capacity}; this operator is too wide for this device`,
    );
}

export async function factorHessian(rt: GpuRuntime, args: FactorHessianArgs): Promise<HessianFactor> {
  const { hessian, cols: n, percdamp, signal } = args;
  checkInteger('factorHessian', 'cols', n);
  if (!(Number.isFinite(percdamp) && percdamp > 0))
    throw new RangeError(`SparseGPT: the damping fraction must be a finite number > 0, got ${percdamp}`);
  checkMatrix('factorHessian', 'hessian', hessian, n, n, n, 0);
  checkFactorFits(rt, n);
  signal?.throwIfAborted();

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  // Diagonal blocks are bound whole: narrow them until one fits a binding.
  let block = Math.min(MAX_BLOCK, Math.max(n, 1));
  while (block > 1 && span(block, block, n) > capacity) block--;
  // Windows of whole rows (at least one: n ≤ capacity).
  const wholeRows = Math.max(1, Math.floor(capacity / Math.max(n, 1)));
  const panelRows = 1 + Math.floor((capacity - block) / Math.max(n, 1));

  // The factor and the dead-input flags outlive this call (until destroy); the rest does not.
  const kept: TrackedBuffer[] = [];
  const temporary: TrackedBuffer[] = [];
  let done = false;
  const make = async (label: string, bytes: number, category: 'statistics' | 'scratch' = 'scratch') => {
    const b = await rt.createBuffer(label, category, Math.max(4, bytes));
    (category === 'scratch' ? temporary : kept).push(b);
    return b;
  };
  try {
    const s = await make('SparseGPT inverse-Hessian factor', 4 * n * n, 'statistics');
    const dead = await make('SparseGPT dead inputs', 4 * n, 'statistics');
    const diag = await make('SparseGPT Hessian diagonal', 4 * n);
    const panel = await make('SparseGPT factor panel', 4 * n * block);
    const small = await make('SparseGPT factor diagonal block', 4 * block * block);
    const copy = await make('SparseGPT factor block row', 4 * block * n);
    const status = await make('SparseGPT factor status', 4 * STATUS_SLOTS);
    const pipe = (entryPoint: CholeskyEntry) => choleskyKernels[entryPoint].pipeline(rt);
    const check = await pipe('check');
    const diagonal = await pipe('diagonal');
    const mean = await pipe('mean');
    const damp = await pipe('damp');
    const factorDiagonal = await pipe('factor_diagonal');
    const panelSolve = await pipe('panel');
    const zeroLower = await pipe('zero_lower');
    const invertDiagonal = await pipe('invert_diagonal');
    const applyInverse = await pipe('apply_inverse');
    const takePanel = await pipe('take_panel');
    const params = (q: {
      rows?: number;
      row0?: number;
      base?: number;
      base2?: number;
      width?: number;
      ld2?: number;
      damping?: number;
    }) =>
      choleskyKernels.check.pack({
        n,
        rows: q.rows ?? 0,
        row0: q.row0 ?? 0,
        base: q.base ?? 0,
        base2: q.base2 ?? 0,
        width: q.width ?? 0,
        ld2: q.ld2 ?? 0,
        damping: q.damping ?? 0,
      });
    // Row-parallel dispatches over windows of `per` rows; `first` is the element each window starts at.
    const overRows = (
      pipeline: GPUComputePipeline,
      rows: number,
      per: number,
      first: (r0: number) => number,
      elements: (rb: number) => number,
      extra: (r0: number, rb: number) => GPUBuffer[],
      q: { damping?: number } = {},
    ): Dispatch[] => {
      const out: Dispatch[] = [];
      for (let r0 = 0; r0 < rows; r0 += per) {
        const rb = Math.min(per, rows - r0);
        const win = bindWindow(s.buffer, first(r0), elements(rb), align);
        out.push({
          pipeline,
          uniforms: params({ rows: rb, row0: r0, base: win.base, ...q }),
          storage: [win.binding, ...extra(r0, rb)],
          workgroups: foldGrid(Math.ceil(rb / 64), maxGroups),
        });
      }
      return out;
    };
    // Blocks [start, end) of the factorization, partial one first: the reversed Cholesky walks
    // them from the last, the inverse from the first.
    const blocks: [number, number][] = [];
    for (let end = n; end > 0; end -= block) blocks.unshift([Math.max(0, end - block), end]);

    const tried: number[] = [];
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const damping = percdamp * 10 ** attempt;
      tried.push(damping);
      const init = new Uint32Array(STATUS_SLOTS);
      init[FIRST_NON_FINITE] = 0xffffffff;
      rt.write(status.buffer, init);
      if (n > 0) rt.copy(hessian, s.buffer, 4 * n * n);
      const prep: Dispatch[] = [];
      if (attempt === 0) {
        for (let r0 = 0; r0 < n; r0 += wholeRows) {
          const rb = Math.min(wholeRows, n - r0);
          const win = bindWindow(s.buffer, r0 * n, rb * n, align);
          prep.push({
            pipeline: check,
            uniforms: params({ rows: rb, row0: r0, base: win.base }),
            storage: [win.binding, status.buffer],
            workgroups: foldGrid(Math.ceil((rb * n) / 256), maxGroups),
          });
        }
      }
      const onDiagonal = (r0: number) => r0 * n + r0;
      const diagonalSpan = (rb: number) => span(rb, rb, n);
      prep.push(
        ...overRows(diagonal, n, wholeRows, onDiagonal, diagonalSpan, () => [
          diag.buffer,
          dead.buffer,
          status.buffer,
        ]),
        { pipeline: mean, uniforms: params({}), storage: [diag.buffer, status.buffer], workgroups: [1] },
        ...overRows(damp, n, wholeRows, onDiagonal, diagonalSpan, () => [status.buffer], { damping }),
      );
      rt.submit(prep);

      // Phase 1: H = R·Rᵀ, from the last block up.
      for (let k = blocks.length - 1; k >= 0; k--) {
        const [start, end] = blocks[k] as [number, number];
        const b = end - start;
        const d = bindWindow(s.buffer, start * n + start, span(b, b, n), align);
        // One pass per kernel, so that a profile splits the GPU time by kernel.
        rt.submit([
          {
            pipeline: factorDiagonal,
            uniforms: params({ row0: start, base: d.base, width: b }),
            storage: [d.binding, small.buffer, status.buffer],
            workgroups: [1],
          },
        ]);
        if (start > 0) {
          const work: Dispatch[] = [];
          for (let r0 = 0; r0 < start; r0 += panelRows) {
            const rb = Math.min(panelRows, start - r0);
            const win = bindWindow(s.buffer, r0 * n + start, span(rb, b, n), align);
            const pw = bindWindow(panel.buffer, r0 * b, rb * b, align);
            work.push({
              pipeline: panelSolve,
              uniforms: params({ rows: rb, row0: r0, base: win.base, base2: pw.base, width: b }),
              storage: [win.binding, pw.binding, small.buffer],
              workgroups: foldGrid(Math.ceil(rb / 64), maxGroups),
            });
          }
          rt.submit(work);
          // H[0:s, 0:s] −= R[0:s, s:e]·R[0:s, s:e]ᵀ; only its upper triangle is read later.
          rt.submit(
            await matmulDispatches(rt, {
              a: panel.buffer,
              b: panel.buffer,
              c: s.buffer,
              m: start,
              n: start,
              k: b,
              transB: true,
              lda: b,
              ldb: b,
              ldc: n,
              alpha: -1,
              beta: 1,
              symmetric: true,
            }),
          );
        }
      }

      // Phase 2: U = R⁻¹ by block back substitution, from the last block row up. Recorded before
      // the status is read, so that the normal case drains the queue once; after a failure this
      // work is wasted.
      for (let k = blocks.length - 1; k >= 0; k--) {
        const [start, end] = blocks[k] as [number, number];
        const b = end - start;
        const d = bindWindow(s.buffer, start * n + start, span(b, b, n), align);
        rt.submit([
          {
            pipeline: invertDiagonal,
            uniforms: params({ row0: start, base: d.base, width: b }),
            storage: [d.binding, small.buffer],
            workgroups: [1],
          },
        ]);
        // U[s:e, s:] = R_D⁻¹·B, in chunks of columns that fit a binding (b rows of S each).
        const ld2 = n - start;
        const chunk = Math.max(1, capacity - (b - 1) * n);
        const apply: Dispatch[] = [];
        for (let c0 = 0; c0 < ld2; c0 += chunk) {
          const w = Math.min(chunk, ld2 - c0);
          const win = bindWindow(s.buffer, start * n + start + c0, span(b, w, n), align);
          const cw = bindWindow(copy.buffer, c0, span(b, w, ld2), align);
          apply.push({
            pipeline: applyInverse,
            uniforms: params({ rows: w, row0: c0, base: win.base, base2: cw.base, width: b, ld2 }),
            storage: [win.binding, cw.binding, small.buffer],
            workgroups: foldGrid(Math.ceil(w / 64), maxGroups),
          });
        }
        rt.submit(apply);
        if (start === 0) continue;
        const take: Dispatch[] = [];
        for (let r0 = 0; r0 < start; r0 += panelRows) {
          const rb = Math.min(panelRows, start - r0);
          const win = bindWindow(s.buffer, r0 * n + start, span(rb, b, n), align);
          const pw = bindWindow(panel.buffer, r0 * b, rb * b, align);
          take.push({
            pipeline: takePanel,
            uniforms: params({ rows: rb, base: win.base, base2: pw.base, width: b }),
            storage: [win.binding, pw.binding],
            workgroups: foldGrid(Math.ceil(rb / 64), maxGroups),
          });
        }
        rt.submit(take);
        // S[0:s, s:] −= R[0:s, s:e]·U[s:e, s:].
        rt.submit(
          await matmulDispatches(rt, {
            a: panel.buffer,
            b: copy.buffer,
            c: s.buffer,
            m: start,
            n: ld2,
            k: b,
            lda: b,
            ldb: ld2,
            ldc: n,
            offsetC: start,
            alpha: -1,
            beta: 1,
          }),
        );
      }
      rt.submit(
        overRows(
          zeroLower,
          n,
          wholeRows,
          (r0) => r0 * n,
          (rb) => rb * n,
          () => [],
        ),
      );

      const record = new Uint32Array(await rt.read(status.buffer));
      const nonFinite = record[NON_FINITE] as number;
      if (nonFinite > 0) {
        const at = record[FIRST_NON_FINITE] as number;
        const [value] = await rt.readF32(hessian, 4 * at, 4);
        throw new RangeError(
          `sparseGpt: the Hessian holds ${value} at (${Math.floor(at / n)}, ${at % n})` +
            (nonFinite > 1 ? ` and ${nonFinite - 1} more non-finite entries` : '') +
            '; the calibration statistics overflowed or hold NaN, so check the calibration inputs',
        );
      }
      if (record[FAILED] === 0) {
        done = true;
        return {
          u: s.buffer,
          dead: dead.buffer,
          cols: n,
          damping,
          deadColumns: record[DEAD] as number,
          destroy() {
            for (const b of kept) b.destroy();
          },
        };
      }
      if (attempt === DAMPING_RETRIES) {
        const meanDiagonal = new Float32Array(record.buffer, 4 * MEAN, 1)[0] as number;
        const pivotValue = new Float32Array(record.buffer, 4 * PIVOT_VALUE, 1)[0] as number;
        throw new SingularHessianError(
          `SparseGPT: the ${n}×${n} Hessian is not positive definite even with damping ` +
            `${tried.map((x) => String(Number(x.toPrecision(3)))).join(', ')} × its mean diagonal ` +
            `(${meanDiagonal.toPrecision(3)}; last failure at pivot ${record[PIVOT]}, ${pivotValue.toPrecision(3)}); ` +
            'calibrate on more data (more tokens than inputs), or set a larger SparseGPT damping (percdamp)',
        );
      }
    }
  } finally {
    for (const b of temporary) b.destroy();
    if (!done) for (const b of kept) b.destroy();
  }
}

/**
 * The factor of one operator group's Hessian, made when the first operator asks for it and shared
 * by the rest (q, k and v, or gate and up, have the same inputs). A failed factorization fails
 * every operator that asks, with the same error.
 */
export class GroupHessianFactor {
  private pending: Promise<HessianFactor> | undefined;
  private made: HessianFactor | undefined;
  private destroyed = false;

  constructor(
    private readonly rt: GpuRuntime,
    private readonly args: FactorHessianArgs,
  ) {}

  get cols(): number {
    return this.args.cols;
  }

  get(): Promise<HessianFactor> {
    if (this.destroyed) throw new Error('GroupHessianFactor: used after destroy');
    this.pending ??= factorHessian(this.rt, this.args).then((factor) => {
      if (this.destroyed) factor.destroy();
      else this.made = factor;
      return factor;
    });
    return this.pending;
  }

  destroy(): void {
    this.destroyed = true;
    this.made?.destroy();
    this.made = undefined;
  }
}
