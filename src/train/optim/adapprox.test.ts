import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countersSince, type GpuRuntime } from '../../gpu/runtime';
import { createNodeRuntime } from '../../host/nodeGpu';
import { freshSeed, Random } from '../../kernels/random';
import { Adapprox, type AdapproxInspection, type AdapproxOptions } from './adapprox';
import { AdapproxReference, type AdapproxReferenceOptions } from './adapprox.reference';
import { adapproxKernels } from './adapproxKernels';
import { regionFloats, STEP_TABLE_WORDS } from './adapproxStep';
import { NonFiniteGradientError } from './optimizer';
import { runPass } from './passes';
import { gaussianAt } from './srsi';
import { recordFloats, sketchLayout } from './srsiGpu';
import { SRSI_TABLE_WORDS } from './srsiGpuBatch';
import {
  AWKWARD,
  awkwardGradient,
  compareWithReference,
  maxAbs,
  type Shape,
  type TestParam,
  TestParams,
  U32,
} from './testParams';

const LRS = [1e-3, 3e-3, 1e-2, 5e-3, 2e-3];
const fullRank = (rows: number, cols: number) => Math.min(rows, cols);
const fixedRank = (k: number) => () => k;

/** Gradients of one scale per step with entries within a factor 2 of it, so V is well conditioned. */
function moderateGradient(random: Random, p: Shape): Float32Array {
  const scale = 10 ** (-1 - 2 * random.next());
  return Float32Array.from(
    { length: p.rows * p.cols },
    () => (random.next() < 0.5 ? -1 : 1) * scale * (0.5 + 0.5 * random.next()),
  );
}

/**
 * Gradients whose squares are exactly a rank-`rank` positive matrix Σ_r c_r·a_r b_rᵀ with fixed
 * positive a_r, b_r per parameter and fresh weights c_r per step (random signs): every V of the
 * run then has rank `rank`, up to the f32 rounding of G. With `distinct`, component r lives mostly
 * on the rows and columns ≡ r (mod rank), so no smaller rank comes near it (ξ_{rank−1} ≳ 0.3).
 */
function lowRankSquares(random: Random, rank: number, distinct = false) {
  const factors = new Map<string, { a: number[][]; b: number[][] }>();
  const entry = (r: number, i: number) =>
    (distinct ? (i % rank === r ? 1 : 0.02) : 0.2) + random.next() * (distinct ? 0.1 : 1);
  return (p: Shape): Float32Array => {
    let f = factors.get(p.name);
    if (!f) {
      f = {
        a: Array.from({ length: rank }, (_, r) => Array.from({ length: p.rows }, (_, i) => entry(r, i))),
        b: Array.from({ length: rank }, (_, r) => Array.from({ length: p.cols }, (_, j) => entry(r, j))),
      };
      factors.set(p.name, f);
    }
    const scale = 10 ** (-2 - 2 * random.next());
    const c = Array.from({ length: rank }, () => 0.2 + random.next());
    const g = new Float32Array(p.rows * p.cols);
    for (let i = 0; i < p.rows; i++)
      for (let j = 0; j < p.cols; j++) {
        let sq = 0;
        for (let r = 0; r < rank; r++)
          sq += (c[r] as number) * (f.a[r]?.[i] as number) * (f.b[r]?.[j] as number);
        g[i * p.cols + j] = (random.next() < 0.5 ? -1 : 1) * scale * Math.sqrt(sq);
      }
    return g;
  };
}

/**
 * How many f32 roundoffs the GPU's history Q·Uᵀ may be off the V it compressed, relative to each
 * entry: the GEMMs U = VᵀQ and Q·Uᵀ over the short side s and Q's distance from orthonormality give
 * |δH_ij| ≤ (s^1.5 + 2s)·u·‖V_{:,j}‖ (j along the long side, the column over the short side), and
 * a truncation that drops ξ·‖V‖_F adds up to that much per entry.
 */
function historyKappa(v: Float64Array, rows: number, cols: number, dropped: number): number {
  const short = Math.min(rows, cols);
  const long = Math.max(rows, cols);
  const at = (i: number, j: number) =>
    rows <= cols ? (v[i * cols + j] as number) : (v[j * cols + i] as number);
  let worst = 0;
  let frob = 0;
  let smallest = Number.POSITIVE_INFINITY;
  for (let j = 0; j < long; j++) {
    let norm = 0;
    for (let i = 0; i < short; i++) norm += at(i, j) ** 2;
    frob += norm;
    for (let i = 0; i < short; i++) {
      worst = Math.max(worst, Math.sqrt(norm) / at(i, j));
      smallest = Math.min(smallest, at(i, j));
    }
  }
  return 2 * (short ** 1.5 + 2 * short) * worst + (2 * dropped * Math.sqrt(frob)) / (U32 * smallest);
}

/**
 * Steps Adapprox and its reference and checks |p_gpu − p_ref| per parameter against, summed over
 * the steps: 2u·max|p| + η·(2κ + 96)·u·max_{s≤t} max|clip·Û_s|. κ (historyKappa, 0 for dense
 * parameters, whose V the GPU keeps exactly up to one rounding per step) bounds the relative error
 * of the history in V, which reaches Û at half that and the clip's RMS at most that; 96 covers the
 * roundings of V, Û, the reductions of ΣÛ² (≤ 32 deep here), the clip, the momentum (its errors
 * average, never exceeding the largest) and the guidance's cosine.
 */
async function compare(
  rt: GpuRuntime,
  shapes: readonly Shape[],
  options: AdapproxOptions,
  reference: Partial<AdapproxReferenceOptions>,
  gradient: (random: Random) => (p: TestParam) => Float32Array,
) {
  const seed = freshSeed();
  const random = new Random(seed);
  const set = await TestParams.create(rt, random, shapes);
  const opt = new Adapprox(options);
  const ref = new AdapproxReference(reference);
  const previous = new Map<string, { v: Float64Array; error: number }>();
  const largest = new Map<string, number>();
  try {
    const results = await compareWithReference(
      rt,
      opt,
      {
        step: (params, lr) => ref.step(params, lr),
        boundAfterStep: (p) => {
          const record = ref.last.get(p.name);
          if (!record) throw new Error(`no reference record for ${p.name}`);
          const before = previous.get(p.name);
          const factored = p.rows > 1 && p.cols > 1 && Math.min(p.rows, p.cols) >= (options.denseBelow ?? 8);
          const kappa = factored && before ? historyKappa(before.v, p.rows, p.cols, before.error) : 0;
          previous.set(p.name, { v: record.v, error: ref.o.mode === 'sketch' ? record.error : 0 });
          const big = Math.max(largest.get(p.name) ?? 0, record.clipped);
          largest.set(p.name, big);
          const lr = LRS[(ref.states.get(p.name)?.t ?? 1) - 1] as number;
          return 2 * U32 * maxAbs(p.ref) + lr * (2 * kappa + 96) * U32 * big;
        },
      },
      set,
      random,
      LRS,
      gradient(random),
    );
    for (const r of results) {
      expect(r.error, `${r.name} seed ${seed}`).toBeLessThanOrEqual(r.bound);
      expect(r.moved, `${r.name} seed ${seed}`).toBeGreaterThan(100 * r.bound);
    }
    return { opt, ref, seed };
  } finally {
    opt.destroy();
    set.destroy();
  }
}

const FULL_RANK: AdapproxOptions = {
  kMin: fullRank,
  kMax: fullRank,
  errorThreshold: 0,
  denseBelow: 1,
  powerIterations: 2,
  weightDecay: 0.1,
};
const FULL_RANK_REF: Partial<AdapproxReferenceOptions> = { mode: 'exact', denseBelow: 1, weightDecay: 0.1 };

describe('Adapprox on the GPU', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
  });
  afterAll(() => rt.destroy());

  it('at full rank with no sketch error follows the dense-V algorithm (momentum on)', () =>
    compare(rt, AWKWARD, FULL_RANK, FULL_RANK_REF, (r) => (p) => moderateGradient(r, p)));

  it('follows it without a first moment', () =>
    compare(
      rt,
      AWKWARD,
      { ...FULL_RANK, beta1: 0 },
      { ...FULL_RANK_REF, beta1: 0 },
      (r) => (p) => moderateGradient(r, p),
    ));

  it('follows it with cosine guidance (both forms) and the warm start', async () => {
    for (const guidance of ['half', 'positive'] as const)
      await compare(
        rt,
        AWKWARD,
        { ...FULL_RANK, guidance, warmStart: true },
        { ...FULL_RANK_REF, guidance },
        (r) => (p) => moderateGradient(r, p),
      );
  });

  it('follows it under a tiny binding limit (windowed GEMMs, passes and warm start)', async () => {
    const tiny = await createNodeRuntime({
      capLimits: { maxStorageBufferBindingSize: 4096, maxComputeWorkgroupsPerDimension: 3 },
    });
    try {
      // 4 KiB: V of 37 × 29 (4.2 KiB) takes two windows, its sketch buffer at w = 9 (3.3 KiB) one.
      // The sketch (long side × w), the w × w scratch and the factors must each fit one binding (the
      // QR and the eigensolver run in one workgroup and cannot window), so at full rank, where the
      // sketch is as large as V, a V too large for a binding is refused up front, changing nothing;
      // below full rank V is windowed (tiled GEMMs and passes, warm start) while its sketch fits.
      const ranks = { kMin: fixedRank(4), kMax: fixedRank(4), oversampling: 5, powerIterations: 3, seed: 5 };
      await compare(
        tiny,
        [{ name: 'w37x29', rows: 37, cols: 29 }, ...AWKWARD.slice(2)],
        { ...ranks, warmStart: true },
        { ...ranks, warmStart: true },
        (r) => lowRankSquares(r, 2),
      );
      const random = new Random(freshSeed());
      const set = await TestParams.create(tiny, random, [{ name: 'w37x29', rows: 37, cols: 29 }]);
      set.setGradients((p) => moderateGradient(random, p));
      const before = tiny.ledger.bytesIn('optimizer');
      const opt = new Adapprox(FULL_RANK);
      await expect(opt.step(tiny, set.slots, 1e-3)).rejects.toThrow(
        /"w37x29" needs its sketch \(\(m \+ n\)·w and the w × w scratch\) in one storage binding .* lower k_max or the oversampling/,
      );
      expect(tiny.ledger.bytesIn('optimizer')).toBe(before);
      expect(await set.read(set.params[0] as TestParam)).toEqual(set.params[0]?.p0);
      opt.destroy();
      set.destroy();
    } finally {
      tiny.destroy();
    }
  });

  it('below full rank follows the float64 S-RSI with the same sketch, in both orientations', async () => {
    const shapes = [
      { name: 'w24x40', rows: 24, cols: 40 },
      { name: 'w40x24', rows: 40, cols: 24 },
      { name: 'col33x1', rows: 33, cols: 1 },
    ];
    const ranks = { kMin: fixedRank(4), kMax: fixedRank(4), oversampling: 5, powerIterations: 3 };
    // Both forms of the S-RSI: one workgroup per matrix (small matrices, the default) and one
    // dispatch per product and QR (fuseBelow: 0, what larger matrices get).
    for (const fuseBelow of [undefined, 0]) {
      const { opt, ref } = await compare(
        rt,
        shapes,
        { ...ranks, seed: 77, fuseBelow },
        { ...ranks, seed: 77 },
        (r) => lowRankSquares(r, 2),
      );
      for (const d of opt.diagnostics().filter((x) => x.factored)) {
        expect(d.rank).toBe(4);
        expect(d.sketchWidth).toBe(9);
        expect(ref.last.get(d.name)?.rank).toBe(4);
      }
    }
  });

  it('the fused step (workgroups of 8 and 256) and the multi-pass path both follow the reference on the same shapes', async () => {
    // Wider and taller than either workgroup (70 > 64), 1-row and 1-column vectors, a matrix kept
    // dense (short side 3 < denseBelow) and factored ones with a history below full rank (rank 2
    // squares, k = 3: the reference's S-RSI with the same sketch). Bound: compare's, the same for
    // every path; the fused sums are serial per invocation, at most 2·70 + 8 = 148 deep (w70x9 with
    // 8 invocations: the first takes 2 of its 9 columns; with 256, w9x70's 2 bands of 70 invocations
    // hold 8 terms each and the fold adds their 140 partials: 148 again), and Σ Û² reaches the update
    // through the clip's square root, which halves that to 74u, inside the 96u for these positive sums.
    const shapes = [
      { name: 'w9x70', rows: 9, cols: 70 },
      { name: 'w70x9', rows: 70, cols: 9 },
      { name: 'row1x67', rows: 1, cols: 67 },
      { name: 'col67x1', rows: 67, cols: 1 },
      { name: 'w5x3', rows: 5, cols: 3 },
    ];
    const ranks = { kMin: fixedRank(3), kMax: fixedRank(3), oversampling: 4, powerIterations: 3, seed: 11 };
    for (const path of [{ stepGroup: 8 }, { stepGroup: 256 }, { fuseStepUpTo: 0 }])
      for (const extra of [{}, { beta1: 0 }, { guidance: 'half' as const }])
        await compare(rt, shapes, { ...ranks, ...path, ...extra }, { ...ranks, ...extra }, (r) =>
          lowRankSquares(r, 2),
        );
  });

  it('steps every small parameter in one dispatch and runs the S-RSI of the small factored matrices in one more (each matrix three alone)', async () => {
    const random = new Random(freshSeed());
    const dense = [
      { name: 'row1x67', rows: 1, cols: 67 },
      { name: 'col67x1', rows: 67, cols: 1 },
      { name: 'w5x3', rows: 5, cols: 3 },
    ];
    const factored = [
      { name: 'w9x70', rows: 9, cols: 70 },
      { name: 'w70x9', rows: 70, cols: 9 },
    ];
    const set = await TestParams.create(rt, random, [...dense, ...factored]);
    const dispatches = async (options: AdapproxOptions) => {
      const opt = new Adapprox({ kMax: fixedRank(3), ...options });
      const counts: number[] = [];
      for (let t = 0; t < 2; t++) {
        set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
        await rt.sync();
        const before = rt.counters();
        await opt.step(rt, set.slots, 1e-3);
        await rt.sync();
        counts.push(countersSince(rt.counters(), before).dispatches);
      }
      opt.destroy();
      return counts;
    };
    try {
      // The fused steps of the dense parameters and the batched matrices are one dispatch
      // (adapproxStep.ts), which also counts each gradient's non-finite entries, and the S-RSI of
      // every small matrix one more (the batch, srsiGpuBatch.ts), which also rotates their new
      // factors (copied into Q and U, no dispatch). Without the batch, each matrix takes its own
      // step before its own S-RSI dispatch and its own rotation. On the multi-pass step every
      // parameter has a gradient check of its own (one dispatch each) first.
      const batched = 2;
      const alone = 1 + 3 * factored.length;
      expect(await dispatches({})).toEqual([batched, batched]);
      expect(await dispatches({ guidance: 'positive' })).toEqual([batched, batched]);
      expect(await dispatches({ warmStart: false })).toEqual([batched, batched]);
      expect(await dispatches({ batchBytes: 0 })).toEqual([alone, alone]);
      const multiPass = await dispatches({ fuseStepUpTo: 0 });
      for (const count of multiPass) expect(count).toBeGreaterThan(alone);
      // Matrices that take the multi-pass step join the batch too: each one's S-RSI and rotation
      // (two dispatches) become the batch's one dispatch.
      const multiPassAlone = await dispatches({ fuseStepUpTo: 0, batchBytes: 0 });
      expect(multiPass).toEqual(multiPassAlone.map((count) => count - 2 * factored.length + 1));
    } finally {
      set.destroy();
    }
  });

  it('adapts the rank to the spectrum: a rank-3 second moment gets rank 3, as in the reference', async () => {
    const shapes = [
      { name: 'w24x40', rows: 24, cols: 40 },
      { name: 'w40x24', rows: 40, cols: 24 },
    ];
    const ranks = { kMax: fixedRank(12), deltaK: 4, errorThreshold: 0.03 };
    const seed = freshSeed();
    const random = new Random(seed);
    const set = await TestParams.create(rt, random, shapes);
    const opt = new Adapprox(ranks);
    const ref = new AdapproxReference(ranks);
    const gradient = lowRankSquares(random, 3, true);
    for (let t = 0; t < 3; t++) {
      const grads = set.setGradients((p) => gradient(p));
      await opt.step(rt, set.slots, 1e-3);
      ref.step(
        set.params.map((p, i) => ({ ...p, p: p.ref, g: grads[i] as Float32Array })),
        1e-3,
      );
      for (const d of opt.diagnostics()) {
        expect(d.rank, `${d.name} step ${t} seed ${seed}`).toBe(3);
        expect(ref.last.get(d.name)?.rank).toBe(3);
        // The rank-3 error is f32 noise: ‖V‖² − ‖U‖² cancels to ~s·u·‖V‖², so ξ ≈ sqrt(s·u) at most.
        expect(d.relativeError).toBeLessThan(Math.sqrt(64 * 40 * U32));
      }
    }
    opt.destroy();
    set.destroy();
  });

  it('grows the rank by Δk per step up to k_max when the error stays above ξ_thr, and the ledger follows', async () => {
    const shapes = [
      { name: 'w24x40', rows: 24, cols: 40 },
      { name: 'w40x24', rows: 40, cols: 24 },
    ];
    const random = new Random(freshSeed());
    for (const preallocate of [false, true]) {
      const set = await TestParams.create(rt, random, shapes);
      const opt = new Adapprox({ kMax: fixedRank(10), deltaK: 3, errorThreshold: 0, preallocate });
      const before = rt.ledger.bytesIn('optimizer');
      for (const expected of [4, 7, 10, 10]) {
        set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
        await opt.step(rt, set.slots, 1e-3);
        const stride = preallocate ? 10 : expected;
        let formula = 0;
        for (const d of opt.diagnostics()) {
          expect(d.rank).toBe(expected);
          // docs/algorithms/adapprox.md §2: mn (M) + k(m + n) floats per matrix.
          formula += 4 * (d.rows * d.cols + stride * (d.rows + d.cols));
        }
        expect(opt.stateBytes().persistent).toBe(formula);
        await rt.sync();
        expect(rt.ledger.bytesIn('optimizer') - before).toBe(formula);
      }
      opt.destroy();
      set.destroy();
    }
  });

  it('holds ‖V − QUᵀ‖² = ‖V‖² − ‖U‖² on the GPU result, and its error estimate agrees', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const shapes = [
      { name: 'w24x40', rows: 24, cols: 40 },
      { name: 'w40x24', rows: 40, cols: 24 },
    ];
    const checked: string[] = [];
    const inspect = async (view: AdapproxInspection) => {
      const { rows, cols, rank: k, stride, sketchWidth: w } = view;
      const short = Math.min(rows, cols);
      const v = Float64Array.from(await rt.readF32(view.v, 0, rows * cols * 4));
      const q = await rt.readF32(view.q);
      const u = await rt.readF32(view.u);
      let lhs = 0;
      let vv = 0;
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          // V ≈ Q·Uᵀ with Q on the rows, or U·Qᵀ with Q on the columns.
          const [a, b] = view.qOnRows ? [i, j] : [j, i];
          let h = 0;
          for (let c = 0; c < k; c++) h += (q[a * stride + c] as number) * (u[b * stride + c] as number);
          const x = v[i * cols + j] as number;
          lhs += (x - h) ** 2;
          vv += x * x;
        }
      let uu = 0;
      for (let r = 0; r < Math.max(rows, cols); r++)
        for (let c = 0; c < k; c++) uu += (u[r * stride + c] as number) ** 2;
      // See the derivation in the report: 2⟨U*, Δ⟩ + 2‖Δ‖² + tr(U F Uᵀ) with ‖Δ‖ ≤ (s+2)u·sqrt(k)·‖V‖
      // (the f32 GEMM U = VᵀQ) and ‖F‖ = ‖QᵀQ − I‖ ≤ 8u·sqrt(s·w) (Q rounded to f32 twice).
      const bound = (2 * (short + 2) * Math.sqrt(k) + 8 * Math.sqrt(short * w) + 2) * U32 * vv;
      expect(Math.abs(lhs - (vv - uu)), `${view.name} seed ${seed}`).toBeLessThanOrEqual(bound);
      // The GPU's own ‖V‖² (a scaled f32 tree sum) and its ξ² agree to the same bound plus the sum's.
      expect(Math.abs(view.normSquared - vv)).toBeLessThanOrEqual(64 * U32 * vv);
      expect(Math.abs(view.relativeError ** 2 * view.normSquared - lhs)).toBeLessThanOrEqual(
        bound + 128 * U32 * vv,
      );
      // And the identity is not vacuous: the rank-3 residual is far above the bound.
      expect(lhs).toBeGreaterThan(100 * bound);
      checked.push(view.name);
    };
    const set = await TestParams.create(rt, random, shapes);
    const opt = new Adapprox({ kMin: fixedRank(3), kMax: fixedRank(3), powerIterations: 2, inspect });
    for (let t = 0; t < 2; t++) {
      set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
      await opt.step(rt, set.slots, 1e-3);
    }
    expect(checked).toEqual(['w24x40', 'w40x24', 'w24x40', 'w40x24']);
    opt.destroy();
    set.destroy();
  });

  it('sums ‖V‖² without f32 underflow: gradients 1e-8 times smaller give the same ranks and errors', async () => {
    const shapes = [{ name: 'w24x40', rows: 24, cols: 40 }];
    const seed = freshSeed();
    const runs = [];
    // At 1e-8, V ≤ ~1e-23: its squares are below f32's smallest subnormal, while ε1 = 1e-30 stays
    // under 1e-4 of every G².
    for (const scale of [1, 1e-8]) {
      // The same rank-3 gradients, scaled: V scales by scale², the error ratios do not.
      const random = new Random(seed);
      const set = await TestParams.create(rt, random, shapes);
      const gradient = lowRankSquares(random, 3, true);
      const views: AdapproxInspection[] = [];
      const opt = new Adapprox({ kMax: fixedRank(8), deltaK: 4, inspect: (v) => void views.push(v) });
      set.setGradients((p) => gradient(p).map((x) => x * scale));
      await opt.step(rt, set.slots, 1e-3);
      runs.push(views[0] as AdapproxInspection);
      opt.destroy();
      set.destroy();
    }
    const [big, tiny] = runs as [AdapproxInspection, AdapproxInspection];
    expect(big.rank).toBe(3);
    expect(tiny.rank).toBe(3);
    expect(tiny.normSquared).toBeGreaterThan(0);
    expect(Math.abs(tiny.normSquared / big.normSquared / 1e-32 - 1)).toBeLessThan(1e-3);
    for (let j = 1; j < 6; j++)
      expect(Math.abs((tiny.errors[j] as number) - (big.errors[j] as number))).toBeLessThan(1e-2);
  });

  it('keeps mn·[β1 > 0] + k(m + n) per factored matrix and dense V (+ M) otherwise, as the ledger shows', async () => {
    const shapes = [
      { name: 'w24x40', rows: 24, cols: 40 },
      { name: 'w40x24', rows: 40, cols: 24 },
      ...AWKWARD,
    ];
    for (const [beta1, batchBytes] of [
      [0, undefined],
      [0.9, undefined],
      [0.9, 0],
    ] as const) {
      const random = new Random(freshSeed());
      const set = await TestParams.create(rt, random, shapes);
      const opt = new Adapprox({ beta1, batchBytes });
      const before = rt.ledger.bytesIn('optimizer');
      rt.ledger.resetPeakIn('optimizer-transient');
      set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
      await opt.step(rt, set.slots, 1e-3);
      const scratchPeak = rt.ledger.peakIn('optimizer-transient');
      // Default ranks: k_max = ⌊24/4⌋ = 6, k0 = k_min = 1, so w = min(1 + 8, 6) + 5 = 11.
      let formula = 0;
      for (const s of shapes) {
        const n = s.rows * s.cols;
        const factored = Math.min(s.rows, s.cols) >= 8;
        const k = opt.diagnostics().find((d) => d.name === s.name)?.rank as number;
        if (factored) expect(k).toBeGreaterThanOrEqual(1);
        formula += 4 * ((beta1 > 0 ? n : 0) + (factored ? k * (s.rows + s.cols) : n));
      }
      // Per factored matrix, its sketch (m + n)·w, the w × w scratch of the QR and eigensolver and
      // its record: every matrix's new factors wait in its sketch until the step's one read-back of
      // the ranks. Then V: in the S-RSI batch (the default), both matrices' V at once (960 floats
      // each, a multiple of the 64-float offset alignment, so no padding; no U_prev copy at the
      // first step) and the batch's table (17 words per matrix); without the batch, the dense V of
      // the largest factored matrix (one buffer, reused matrix after matrix).
      // And every parameter takes the fused step: its G, W, M and V (no history yet) in an arena,
      // however the steps are grouped, with its entry in their table.
      const perSketch = sketchLayout(24, 40, 11).floats + recordFloats(11);
      const v = batchBytes === 0 ? 24 * 40 : 2 * 24 * 40 + 2 * SRSI_TABLE_WORDS;
      const steps = shapes.reduce(
        (sum, s) =>
          sum + regionFloats({ ...s, slot: 0, dense: true, beta2: 0 }, beta1 > 0) + STEP_TABLE_WORDS,
        0,
      );
      const transient = 4 * (v + 2 * perSketch + steps);
      expect(opt.stateBytes()).toEqual({ persistent: formula, transient });
      await rt.sync();
      expect(rt.ledger.snapshot().byCategory.optimizer ?? 0).toBe(before + formula);
      // The ledger's 'optimizer-transient' peak is the transient plus bookkeeping: 8 scalar slots per parameter,
      // one partial sum per 2048 elements, the NaN counters.
      expect(scratchPeak).toBeGreaterThanOrEqual(transient);
      expect(scratchPeak).toBeLessThanOrEqual(transient + 4 * 8 * shapes.length + 64);
      opt.destroy();
      set.destroy();
    }
  });

  it('reads back once per step for all matrices together (the ranks and the gradient counts; twice on the multi-pass step) and writes only the tables of the fused steps and the S-RSI batch', async () => {
    const random = new Random(freshSeed());
    const shapes = [
      { name: 'w24x40', rows: 24, cols: 40 },
      { name: 'w40x24', rows: 40, cols: 24 },
      { name: 'w17x31', rows: 17, cols: 31 },
      ...AWKWARD,
    ];
    for (const [warmStart, fuseBelow, fuseStepUpTo] of [
      [false, undefined, undefined],
      [true, undefined, undefined],
      [true, 0, undefined],
      [true, undefined, 0],
    ] as const) {
      const set = await TestParams.create(rt, random, shapes);
      const opt = new Adapprox({ warmStart, kMax: fixedRank(6), deltaK: 2, fuseBelow, fuseStepUpTo });
      for (let t = 0; t < 3; t++) {
        set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
        await rt.sync();
        const before = rt.counters();
        await opt.step(rt, set.slots, 1e-3);
        await rt.sync();
        const used = countersSince(rt.counters(), before);
        // On the multi-pass step the gradients are checked first, with a read-back of their own.
        expect(used.readbacks).toBe(fuseStepUpTo === 0 ? 2 : 1);
        // The fused steps' table, and the batch's table of shapes and offsets when the small-matrix
        // S-RSI runs (not at fuseBelow 0, where every matrix takes the multi-dispatch S-RSI).
        expect(used.writes).toBe((fuseStepUpTo === 0 ? 0 : 1) + (fuseBelow === 0 ? 0 : 1));
      }
      expect(opt.diagnostics().filter((d) => d.factored)).toHaveLength(3);
      opt.destroy();
      set.destroy();
    }
  });

  it('refuses ranks out of range, bad hyper-parameters and learning rates with a RangeError', async () => {
    const random = new Random(freshSeed());
    const set = await TestParams.create(rt, random, [{ name: 'w24x40', rows: 24, cols: 40 }]);
    set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
    const before = rt.ledger.bytesIn('optimizer');
    for (const [options, message] of [
      [
        { kMax: 25 },
        /"w24x40" \(24×40\) needs integer ranks 1 ≤ k_min ≤ k0 ≤ k_max ≤ min\(m, n\) = 24, got k_min = 1, k0 = 1, k_max = 25/,
      ],
      [{ kMin: 7 }, /k_min = 7, k0 = 7, k_max = 6/],
      [{ k0: 9, kMax: 8 }, /k0 = 9/],
      [{ kMax: (r: number) => r / 5 }, /k_max = 4.8/],
    ] as const) {
      const opt = new Adapprox(options);
      await expect(opt.step(rt, set.slots, 1e-3)).rejects.toThrow(message);
      opt.destroy();
    }
    // Nothing was allocated for the refused steps.
    expect(rt.ledger.bytesIn('optimizer')).toBe(before);
    expect(() => new Adapprox({ kMin: 0 })).toThrow(/k_min must be an integer ≥ 1, got 0/);
    expect(() => new Adapprox({ kMax: 2.5 })).toThrow(RangeError);
    expect(() => new Adapprox({ errorThreshold: 2 })).toThrow(/ξ_thr/);
    expect(() => new Adapprox({ powerIterations: 0 })).toThrow(RangeError);
    expect(() => new Adapprox({ beta1: 0, guidance: 'half' })).toThrow(/needs β1 > 0/);
    const opt = new Adapprox();
    await expect(opt.step(rt, set.slots, -1e-3)).rejects.toThrow(/learning rate must be a finite number ≥ 0/);
    opt.destroy();
    set.destroy();
  });

  it('refuses a NaN or infinite gradient, naming the parameter, and changes nothing', async () => {
    const random = new Random(freshSeed());
    const set = await TestParams.create(rt, random, [{ name: 'w24x40', rows: 24, cols: 40 }, ...AWKWARD]);
    const opt = new Adapprox();
    set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
    await opt.step(rt, set.slots, 1e-3);
    const before = await Promise.all(set.params.map((p) => set.read(p)));
    const ranks = opt.diagnostics().map((d) => d.rank);
    set.setGradients((p) => {
      const g = awkwardGradient(random, p.rows, p.cols);
      if (p.name === 'w24x40') g[100] = Number.NaN;
      return g;
    });
    const error = (await opt.step(rt, set.slots, 1e-3).catch((e: unknown) => e)) as NonFiniteGradientError;
    expect(error).toBeInstanceOf(NonFiniteGradientError);
    expect(error.parameter).toBe('w24x40');
    for (const [i, p] of set.params.entries()) expect(await set.read(p)).toEqual(before[i]);
    expect(opt.diagnostics().map((d) => d.rank)).toEqual(ranks);
    opt.destroy();
    set.destroy();
  });

  it('leaves nothing of a refused step behind: the steps after it match a run without it, also when it is the first, fused or multi-pass', async () => {
    const seed = freshSeed();
    const shapes = [{ name: 'w24x40', rows: 24, cols: 40 }, ...AWKWARD];
    const random = new Random(seed);
    const good = Array.from({ length: 3 }, () => shapes.map((s) => awkwardGradient(random, s.rows, s.cols)));
    // The first parameter's gradient with one infinite entry, the rest finite.
    const bad = (good[0] as Float32Array[]).map((g, i) => {
      const b = Float32Array.from(g);
      if (i === 0) b[7] = Number.NEGATIVE_INFINITY;
      return b;
    });
    // The fused step counts the bad entry in its own kernel (the default here); the multi-pass step
    // checks every gradient before it starts.
    for (const options of [{}, { fuseStepUpTo: 0 }] as AdapproxOptions[]) {
      const run = async (sequence: Float32Array[][]) => {
        const set = await TestParams.create(rt, new Random(seed + 1), shapes);
        const opt = new Adapprox(options);
        for (const gradients of sequence) {
          set.setGradients((p) => gradients[set.params.indexOf(p)] as Float32Array);
          const error = await opt.step(rt, set.slots, 1e-3).catch((e: unknown) => e);
          if (gradients === bad) {
            expect(error, `${JSON.stringify(options)} seed ${seed}`).toBeInstanceOf(NonFiniteGradientError);
            expect((error as NonFiniteGradientError).counts).toEqual([
              { parameter: 'w24x40', nan: 0, infinite: 1, elements: 24 * 40 },
            ]);
          } else expect(error).toBeUndefined();
        }
        const weights = await Promise.all(set.params.map((p) => set.read(p)));
        const ranks = opt.diagnostics().map((d) => [d.name, d.rank]);
        opt.destroy();
        set.destroy();
        return { weights, ranks };
      };
      const refused = await run([bad, ...good.slice(0, 2), bad, ...good.slice(2)]);
      const clean = await run(good);
      // The same kernels on the same data, and the Gaussian sketch drawn from each parameter's step
      // count, which the refused steps must not have moved: equal to the bit.
      expect(refused.ranks).toEqual(clean.ranks);
      for (const [i, w] of refused.weights.entries()) expect(w, shapes[i]?.name).toEqual(clean.weights[i]);
    }
  });

  it('draws the same Gaussian test matrix as the float64 reference stream', async () => {
    const n = 3000;
    const key = 0x9e3779b9;
    const buffer = await rt.createBuffer('omega', 'scratch', 4 * n);
    await runPass(
      rt,
      adapproxKernels.sketch_gaussian,
      n,
      { omega: { buffer: buffer.buffer } },
      { values: { key } },
    );
    const z = await rt.readF32(buffer.buffer);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const want = gaussianAt(key, i);
      // The same 24-bit uniforms; WGSL's cos may be 2⁻¹¹ off (absolute, on [−π, π]), scaled by the
      // radius sqrt(−2 ln u1) ≤ 5.8; log and sqrt add a few ulps.
      expect(Math.abs((z[i] as number) - want), `element ${i}`).toBeLessThan(
        6 * 2 ** -11 + 1e-5 * Math.abs(want),
      );
      worst = Math.max(worst, Math.abs((z[i] as number) - want));
    }
    if (process.env.OPTIM_BOUNDS) console.log(`Gaussian: largest |z_gpu − z_ref| ${worst.toExponential(2)}`);
    buffer.destroy();
  });
});
