// FISTAPruner's solver for one linear operator (docs/algorithms/fistapruner.md §1, §4): minimise
//   F(Ŵ) = ½‖Ŵ X* − W X‖²_F + λ‖Ŵ‖₁
// with FISTA (Beck & Teboulle's accelerated proximal gradient), then reach the exact sparsity with
// a hard threshold, and search λ by bisection on the error ratio E_round / E_total against ξ,
// keeping the best thresholded result (the warm start included). Everything is expressed through
// the operator's statistics, never the calibration tokens: G = X*ᵀX* (n × n), B = W·(XᵀX*) (m × n)
// and ‖WX‖²; then ‖Ŵ X* − W X‖² = Σ Ŵ⊙(Ŵ G − 2B) + ‖WX‖² and ∇f(Ŵ) = Ŵ G − B.
// The rows are independent LASSO problems sharing G, so each iteration is one (m × n)·(n × n)
// product on the matmul kernel plus one fused elementwise pass (shaders/prune/fista.wgsl).

import fistaShader from '../../shaders/prune/fista.wgsl?raw';
import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { defineKernel, type Kernel } from '../kernels/kernel';
import { matmul } from '../kernels/matmul';
import { reduce, reduceToNumber } from '../kernels/reduce';
import { type PassOperand, windowedPassDispatches, windowFields } from '../kernels/windowedPass';

/** One operator's least-squares problem, as statistics on the GPU. */
export interface OperatorProblem {
  rows: number;
  cols: number;
  /** cols × cols: G = X*ᵀX*. */
  gram: GPUBuffer;
  /** rows × cols: B = W·(XᵀX*). */
  b: GPUBuffer;
  /** ‖W X‖²_F, the error of the all-zero matrix. */
  denseEnergy: number;
}

// One declaration per entry point of shaders/prune/fista.wgsl, each with its own uniform block: n is
// a window's length and an operand's name is its window's offset inside its binding (see pass).
const module = { name: 'fista', code: fistaShader } as const;
const offsets = <const N extends string>(...names: N[]) =>
  Object.fromEntries(names.map((name) => [name, 'u32'])) as { [K in N]: 'u32' };
export const fistaKernels = {
  step: defineKernel({
    ...module,
    entryPoints: ['step'],
    uniforms: {
      n: 'u32',
      ...offsets('y', 'yg', 'b', 'w', 'pg', 'z', 'terms', 'change'),
      inv_l: 'f32',
      tau: 'f32',
      beta_prev: 'f32',
      beta: 'f32',
      two_lambda: 'f32',
      write_z: 'f32',
    },
  }),
  quad_terms: defineKernel({
    ...module,
    entryPoints: ['quad_terms'],
    uniforms: { n: 'u32', ...offsets('v', 'vg', 'b', 'out'), two_lambda: 'f32' },
  }),
  round_terms: defineKernel({
    ...module,
    entryPoints: ['round_terms'],
    uniforms: { n: 'u32', ...offsets('a', 'ag', 'c', 'cg', 'out') },
  }),
  harden: defineKernel({
    ...module,
    entryPoints: ['harden'],
    uniforms: { n: 'u32', ...offsets('keep', 'w', 'z', 'dense', 'out', 'zeros') },
  }),
  coordinate_scores: defineKernel({
    ...module,
    entryPoints: ['coordinate_scores'],
    uniforms: { n: 'u32', ...offsets('w', 'wg', 'b', 'diag', 'out'), start: 'u32', cols: 'u32' },
  }),
  stop_check: defineKernel({
    ...module,
    entryPoints: ['stop_check'],
    uniforms: { rec: 'u32', iteration: 'f32', tol_sq: 'f32' },
  }),
  latch: defineKernel({
    ...module,
    entryPoints: ['latch'],
    uniforms: { n: 'u32', ...offsets('rec', 'src_a', 'src_b', 'dst_a', 'dst_b'), stop: 'f32' },
  }),
};

type Entry = keyof typeof fistaKernels;

/**
 * One elementwise pass over `count` elements (kernels/windowedPass.ts). `operands` name the
 * entry point's vectors in binding order, each name also the uniform field that receives its
 * window's offset; `values` are the block's other fields. A block with a `start` field receives
 * each window's first element index, and one with `n` the window's length.
 */
export async function pass(
  rt: GpuRuntime,
  entryPoint: Entry,
  count: number,
  operands: Readonly<Record<string, PassOperand>>,
  values: Readonly<Record<string, number>> = {},
): Promise<void> {
  const kernel: Kernel = fistaKernels[entryPoint];
  const pipeline = await kernel.pipeline(rt, entryPoint);
  rt.submit(
    windowedPassDispatches(rt, {
      name: `fista/${entryPoint}`,
      pipeline,
      count,
      operands: Object.values(operands),
      block: 256,
      uniforms: (window) => kernel.pack({ ...windowFields(kernel, operands, window), ...values }),
    }),
  );
}

/** out = V·G (rows × cols). */
export async function timesGram(
  rt: GpuRuntime,
  p: OperatorProblem,
  v: GPUBuffer,
  out: GPUBuffer,
): Promise<void> {
  await matmul(rt, { a: v, b: p.gram, c: out, m: p.rows, n: p.cols, k: p.cols });
}

/**
 * The slots of a workspace's record, one small buffer that a solve and a λ round fill on the GPU
 * and the host reads once: the K + 1 objective sums first (slot k − 1: 2F(W_{k−1}) − ‖WX‖² of
 * iteration k, slot K: the final iterate's), then single values.
 */
export interface RecordSlots {
  /** The iteration a solve with a tolerance stopped at; 0 when it ran all K. */
  stop: number;
  /** ‖W_k − W_{k−1}‖² and ‖W_k‖² of the current iteration, for the stopping test. */
  change: number;
  size: number;
  /** A λ round's zero count before the threshold, Σ of E_total's terms, and E_round. */
  zeros: number;
  total: number;
  round: number;
  /** Σ of the warm start's error terms (written once, before the first round). */
  warm: number;
  length: number;
}

function recordSlots(iterations: number): RecordSlots {
  const k = iterations;
  return {
    stop: k + 1,
    change: k + 2,
    size: k + 3,
    zeros: k + 4,
    total: k + 5,
    round: k + 6,
    warm: k + 7,
    length: k + 8,
  };
}

/** Scratch matrices of one operator's solve, all rows × cols, and the record of its scalars. */
export class FistaWorkspace {
  private readonly owned: TrackedBuffer[] = [];
  readonly slots: RecordSlots;
  private constructor(
    readonly count: number,
    /** The most iterations a solve on this workspace may run. */
    readonly iterations: number,
  ) {
    this.slots = recordSlots(iterations);
  }

  y!: GPUBuffer;
  yg!: GPUBuffer;
  w!: GPUBuffer;
  pg!: GPUBuffer;
  z!: GPUBuffer;
  terms!: GPUBuffer;
  change!: GPUBuffer;
  hard!: GPUBuffer;
  best!: GPUBuffer;
  keep!: GPUBuffer;
  record!: GPUBuffer;

  static async create(
    rt: GpuRuntime,
    rows: number,
    cols: number,
    iterations: number,
  ): Promise<FistaWorkspace> {
    const ws = new FistaWorkspace(rows * cols, iterations);
    const bytes = 4 * ws.count;
    try {
      for (const name of ['y', 'yg', 'w', 'pg', 'z', 'terms', 'change', 'hard', 'best', 'keep'] as const) {
        const b = await rt.createBuffer(`fista ${name}`, 'scratch', bytes);
        ws.owned.push(b);
        ws[name] = b.buffer;
      }
      const record = await rt.createBuffer('fista record', 'scratch', 4 * ws.slots.length);
      ws.owned.push(record);
      ws.record = record.buffer;
    } catch (error) {
      ws.destroy();
      throw error;
    }
    return ws;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

/** Σ v⊙(vg − 2b) + 2λ|v| over the matrix, given vg = V·G, into `terms` and summed. */
export async function sumQuadTerms(
  rt: GpuRuntime,
  count: number,
  v: GPUBuffer,
  vg: GPUBuffer,
  b: GPUBuffer,
  terms: GPUBuffer,
  lambda = 0,
): Promise<number> {
  await pass(
    rt,
    'quad_terms',
    count,
    { v: { buffer: v }, vg: { buffer: vg }, b: { buffer: b }, out: { buffer: terms } },
    { two_lambda: 2 * lambda },
  );
  return reduceToNumber(rt, 'sum', count, { buffer: terms });
}

/** Runs `body` with `count`-element scratch buffers that are freed afterwards. */
async function withScratch<T>(
  rt: GpuRuntime,
  count: number,
  names: string[],
  body: (b: GPUBuffer[]) => Promise<T>,
): Promise<T> {
  const owned: TrackedBuffer[] = [];
  try {
    for (const name of names) owned.push(await rt.createBuffer(name, 'scratch', 4 * count));
    return await body(owned.map((b) => b.buffer));
  } finally {
    for (const b of owned) b.destroy();
  }
}

/** ‖V X* − W X‖²_F of a matrix V (rows × cols) under the problem's statistics. */
export async function operatorError(rt: GpuRuntime, p: OperatorProblem, v: GPUBuffer): Promise<number> {
  const count = p.rows * p.cols;
  return withScratch(rt, count, ['V·G', 'error terms'], async ([vg, terms]) => {
    await timesGram(rt, p, v, vg as GPUBuffer);
    return (await sumQuadTerms(rt, count, v, vg as GPUBuffer, p.b, terms as GPUBuffer)) + p.denseEnergy;
  });
}

/** Σ W⊙(W·H) = ‖W X‖²_F for H = XᵀX (rows × cols weights, cols × cols H). */
export async function weightedEnergy(
  rt: GpuRuntime,
  w: GPUBuffer,
  h: GPUBuffer,
  rows: number,
  cols: number,
): Promise<number> {
  const count = rows * cols;
  // The zero-filled buffer stands for b (new buffers are zero-initialised), so the terms are w⊙(wh).
  return withScratch(rt, count, ['W·H', 'zeros', 'energy terms'], async ([wh, zeros, terms]) => {
    await matmul(rt, { a: w, b: h, c: wh as GPUBuffer, m: rows, n: cols, k: cols });
    return sumQuadTerms(rt, count, w, wh as GPUBuffer, zeros as GPUBuffer, terms as GPUBuffer);
  });
}

export interface SolveArgs {
  problem: OperatorProblem;
  workspace: FistaWorkspace;
  /** The starting point W₀ (rows × cols); it is copied, not modified. */
  start: GPUBuffer;
  lambda: number;
  lipschitz: number;
  iterations: number;
  /** Relative change ‖W_{k+1} − W_k‖/‖W_{k+1}‖ that ends the solve early; 0 runs every iteration. */
  tolerance?: number;
  signal?: AbortSignal;
}

export interface SolveResult {
  /** F(W_k) for k = 0 … iterations run (F(W₀) first). */
  objectives: number[];
  iterations: number;
}

/**
 * FISTA from `start`: leaves W_K in workspace.w, W_K·G in workspace.yg and the last point before
 * shrinkage, Y_{K−1} − ∇f(Y_{K−1})/L, in workspace.z, and reads the objectives back once.
 */
export async function fistaSolve(rt: GpuRuntime, args: SolveArgs): Promise<SolveResult> {
  await recordSolve(rt, args);
  const { workspace: ws } = args;
  return readSolve(await rt.readF32(ws.record, 0, 4 * ws.slots.length), args);
}

/**
 * fistaSolve's GPU work without the read-back: every objective goes to its slot of the record.
 * With a tolerance the stopping test runs on the GPU too: after each iteration the two norms are
 * reduced into the record and a one-invocation pass sets the stop slot to k once
 * ‖W_k − W_{k−1}‖ ≤ tol·‖W_k‖. The host cannot see that without waiting, so the remaining
 * iterations are still recorded; W_k and Z of the stopping iteration are latched into
 * workspace.hard and workspace.keep (free during a solve) and put back after the last one, so the
 * result and the reported objectives are those of a solve that ended at k.
 */
export async function recordSolve(rt: GpuRuntime, args: SolveArgs): Promise<void> {
  const { problem: p, workspace: ws, lambda, lipschitz: L } = args;
  if (!(L > 0) || !Number.isFinite(L))
    throw new RangeError(`FISTA needs a finite Lipschitz constant > 0, got ${L}`);
  if (!(lambda >= 0)) throw new RangeError(`λ must be ≥ 0, got ${lambda}`);
  if (!Number.isInteger(args.iterations) || args.iterations < 1 || args.iterations > ws.iterations)
    throw new RangeError(
      `FISTA iterations must be a whole number in 1..${ws.iterations} (the workspace's), got ${args.iterations}`,
    );
  const bytes = 4 * ws.count;
  const { slots } = ws;
  rt.copy(args.start, ws.w, bytes);
  rt.copy(args.start, ws.y, bytes);
  const tolerance = args.tolerance ?? 0;
  const record = (offset: number, count = 1) => ({ buffer: ws.record, offset, slots: count });
  if (tolerance > 0) rt.write(ws.record, new Float32Array([0]), 4 * slots.stop);
  let t = 1;
  // β₀ = 0: Y₀ = W₀, so the first product gives P₀ = W₀·G directly.
  let betaPrev = 0;
  for (let k = 1; k <= args.iterations; k++) {
    args.signal?.throwIfAborted();
    await timesGram(rt, p, ws.y, ws.yg);
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    const betaNext = (t - 1) / tNext;
    const last = k === args.iterations;
    await pass(
      rt,
      'step',
      ws.count,
      {
        y: { buffer: ws.y },
        yg: { buffer: ws.yg },
        b: { buffer: p.b },
        w: { buffer: ws.w },
        pg: { buffer: ws.pg },
        z: { buffer: ws.z },
        terms: { buffer: ws.terms },
        change: { buffer: ws.change },
      },
      {
        inv_l: 1 / L,
        tau: lambda / L,
        beta_prev: betaPrev,
        beta: betaNext,
        two_lambda: 2 * lambda,
        write_z: last || tolerance > 0 ? 1 : 0,
      },
    );
    // Σ terms + ‖WX‖² = 2F(W_{k−1}); halved when read.
    await reduce(rt, 'sum', ws.count, { buffer: ws.terms }, { buffer: ws.record, offset: k - 1 });
    betaPrev = betaNext;
    t = tNext;
    if (tolerance > 0 && !last) {
      await reduce(rt, 'sumsq', ws.count, { buffer: ws.change }, { buffer: ws.record, offset: slots.change });
      await reduce(rt, 'sumsq', ws.count, { buffer: ws.w }, { buffer: ws.record, offset: slots.size });
      await pass(
        rt,
        'stop_check',
        1,
        { rec: record(slots.stop, 3) },
        { iteration: k, tol_sq: tolerance * tolerance },
      );
      await pass(rt, 'latch', ws.count, latchOperands(record(slots.stop), [ws.w, ws.z], [ws.hard, ws.keep]), {
        stop: k,
      });
    }
  }
  if (tolerance > 0)
    await pass(rt, 'latch', ws.count, latchOperands(record(slots.stop), [ws.hard, ws.keep], [ws.w, ws.z]), {
      stop: 0,
    });
  // The final iterate's own product and objective, in slot K whatever iteration it came from.
  await timesGram(rt, p, ws.w, ws.yg);
  await pass(
    rt,
    'quad_terms',
    ws.count,
    { v: { buffer: ws.w }, vg: { buffer: ws.yg }, b: { buffer: p.b }, out: { buffer: ws.terms } },
    { two_lambda: 2 * lambda },
  );
  await reduce(rt, 'sum', ws.count, { buffer: ws.terms }, { buffer: ws.record, offset: args.iterations });
}

/** The latch's operands: the record's stop slot, then two sources copied to two destinations. */
function latchOperands(
  rec: PassOperand,
  [srcA, srcB]: readonly GPUBuffer[],
  [dstA, dstB]: readonly GPUBuffer[],
): Record<string, PassOperand> {
  return {
    rec,
    src_a: { buffer: srcA as GPUBuffer },
    src_b: { buffer: srcB as GPUBuffer },
    dst_a: { buffer: dstA as GPUBuffer },
    dst_b: { buffer: dstB as GPUBuffer },
  };
}

/** The solve's result from its record as read back. */
export function readSolve(values: Float32Array, args: SolveArgs): SolveResult {
  const { problem: p, workspace: ws } = args;
  const stop = (args.tolerance ?? 0) > 0 ? (values[ws.slots.stop] as number) : 0;
  const run = stop > 0 ? stop : args.iterations;
  const sums = [...values.subarray(0, run), values[args.iterations] as number];
  return { objectives: sums.map((s) => (s + p.denseEnergy) / 2), iterations: run };
}

/** The median of the values (the lower middle one for an even count), by quickselect. */
export function median(values: Float32Array): number {
  const a = Float32Array.from(values);
  const k = (a.length - 1) >> 1;
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k] as number;
}
