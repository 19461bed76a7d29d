// A fixed number of Lanczos steps on a symmetric n × n matrix A, recorded on the GPU with a single
// read-back. Step j (from the unit vector v_1 the caller gives):
//   w = A·v_j,  α_j = v_jᵀw,  w ← w − α_j·v_j − β_j·v_{j−1},  β_{j+1} = ‖w‖,  v_{j+1} = w / β_{j+1}.
// The product is one matvec dispatch (matvec.ts); the rest of a step is one single-workgroup pass
// (shaders/kernels/lanczos.wgsl, `step`) that writes α_j and β_{j+1}² into slots of one small record. When
// a vector is longer than one binding, the step is five windowed passes instead: the product with
// the terms of α_j, reductions into the record, and the two vector updates reading their
// coefficients from it. Either way nothing waits for the CPU until the record is read.
// The α's and β's are the tridiagonal matrix T whose eigenvalues (Ritz values) approximate A's,
// the extreme ones first; largestRitzValue takes T's largest in float64 on the CPU.
//
// No reorthogonalisation: in f32 the v_j lose orthogonality once a Ritz value has converged, which
// only adds copies of the converged values to T's spectrum. T's eigenvalues stay within rounding
// of A's spectrum, so the largest still approaches λ_max(A) from below.

import shader from '../../shaders/kernels/lanczos.wgsl?raw';
import type { TrackedBuffer } from '../gpu/ledger';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { matvec } from './matvec';
import { foldGrid } from './params';
import { reduce } from './reduce';
import { bindWindow, windowLimits } from './window';

const lanczosKernel = defineKernel({
  name: 'lanczos',
  code: shader,
  entryPoints: ['orthogonalize', 'normalize', 'step'],
  uniforms: {
    n: 'u32',
    off_coef: 'u32',
    off_w: 'u32',
    off_v: 'u32',
    off_u: 'u32',
  },
});

/** T of `steps` Lanczos steps: α_1…α_k and β_2²…β_k² (k = steps; squared as reduced). */
export interface LanczosCoefficients {
  alpha: Float64Array;
  betaSquared: Float64Array;
}

/**
 * The record's layout: slot 2j − 2 holds β_j² (slot 0 is β_1² = 0), 2j − 1 holds α_j, so step j's
 * three coefficients are the consecutive slots 2j − 2 … 2j.
 */
const alphaSlot = (j: number) => 2 * j - 1;
const betaSquaredSlot = (j: number) => 2 * j;

/**
 * Runs `steps` Lanczos steps on A (n × n, symmetric) from the unit vector `start` and reads the
 * coefficients back once. Steps past n are not taken (T is then n × n).
 */
export async function lanczos(
  rt: GpuRuntime,
  a: GPUBuffer,
  n: number,
  start: Float32Array,
  steps: number,
): Promise<LanczosCoefficients> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`lanczos: n = ${n} must be an integer ≥ 1`);
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`lanczos: steps = ${steps} must be an integer ≥ 1`);
  if (start.length !== n) throw new RangeError(`lanczos: the start has ${start.length} elements, n is ${n}`);
  if (a.size < 4 * n * n)
    throw new RangeError(`lanczos: A needs ${4 * n * n} bytes, "${a.label}" has ${a.size}`);
  const k = Math.min(steps, n);
  const owned: TrackedBuffer[] = [];
  try {
    const make = async (label: string, elements: number) => {
      const b = await rt.createBuffer(label, 'scratch', 4 * elements);
      owned.push(b);
      return b.buffer;
    };
    // New buffers are zero: v_0 = 0 and β_1² = 0 need no writes.
    const record = await make('lanczos coefficients', 2 * k + 1);
    let prev = await make('lanczos v_{j−1}', n);
    let v = await make('lanczos v_j', n);
    const w = await make('lanczos w', n);
    rt.write(v, start);
    // One workgroup does a step's vector work when a vector fits one binding (any real n);
    // otherwise five windowed passes, with the terms of α_j in their own buffer.
    const fused = n <= windowLimits(rt.limits).capacity;
    const dots = fused ? w : await make('lanczos α terms', n);
    for (let j = 1; j <= k; j++) {
      if (fused) {
        // Aᵀ·v = A·v for a symmetric A, by the barrier-free per-column kernel.
        await matvec(rt, { a, x: v, y: w, rows: n, cols: n, transpose: true });
        // The last step's β and v_{k+1} are computed too (slot 2k exists): one dispatch either way.
        await update(rt, 'step', n, record, j, { w, v, u: prev });
      } else {
        await matvec(rt, { a, x: v, y: w, rows: n, cols: n, dots: { xRows: v, out: dots } });
        await reduce(rt, 'sum', n, { buffer: dots }, { buffer: record, offset: alphaSlot(j) });
        if (j === k) break;
        await update(rt, 'orthogonalize', n, record, j, { w, v, u: prev });
        await reduce(rt, 'sumsq', n, { buffer: w }, { buffer: record, offset: betaSquaredSlot(j) });
        await update(rt, 'normalize', n, record, j, { w, u: prev });
      }
      [prev, v] = [v, prev];
    }
    const values = await rt.readF32(record, 0, 4 * (2 * k + 1));
    const alpha = new Float64Array(k);
    const betaSquared = new Float64Array(k - 1);
    for (let j = 1; j <= k; j++) {
      alpha[j - 1] = values[alphaSlot(j)] as number;
      if (j < k) betaSquared[j - 1] = values[betaSquaredSlot(j)] as number;
    }
    return { alpha, betaSquared };
  } finally {
    for (const b of owned) b.destroy();
  }
}

/** One vector update of step j over n elements, in windows when n exceeds one binding. */
async function update(
  rt: GpuRuntime,
  entryPoint: 'orthogonalize' | 'normalize' | 'step',
  n: number,
  record: GPUBuffer,
  j: number,
  vectors: { w: GPUBuffer; v?: GPUBuffer; u: GPUBuffer },
): Promise<void> {
  const pipeline = await lanczosKernel.pipeline(rt, entryPoint);
  const { align, capacity } = windowLimits(rt.limits);
  const coef = bindWindow(record, 2 * j - 2, 3, align);
  const dispatches: Dispatch[] = [];
  // The fused step covers all n elements with one workgroup, in one window.
  const chunk = entryPoint === 'step' ? n : capacity;
  for (let s = 0; s < n; s += chunk) {
    const count = Math.min(chunk, n - s);
    const [w, v, u] = [vectors.w, vectors.v, vectors.u].map((b) =>
      b ? bindWindow(b, s, count, align) : null,
    );
    dispatches.push({
      pipeline,
      uniforms: lanczosKernel.pack({
        n: count,
        off_coef: coef.base,
        off_w: w?.base ?? 0,
        off_v: v?.base ?? 0,
        off_u: u?.base ?? 0,
      }),
      storage: [coef, w, v, u].flatMap((x) => (x ? [x.binding] : [])),
      workgroups:
        entryPoint === 'step'
          ? [1]
          : foldGrid(Math.ceil(count / 256), rt.limits.maxComputeWorkgroupsPerDimension),
    });
  }
  rt.submit(dispatches);
}

/**
 * The largest eigenvalue of the symmetric tridiagonal T (diagonal α, squared off-diagonal β²) by
 * bisection on Sturm counts, in float64. T stops at the first β² ≤ 0: the Krylov space ended there.
 */
export function largestRitzValue({ alpha, betaSquared }: LanczosCoefficients): number {
  let k = alpha.length;
  for (let i = 0; i < betaSquared.length; i++)
    if (!((betaSquared[i] as number) > 0)) {
      k = i + 1;
      break;
    }
  const a = (i: number) => alpha[i] as number;
  const b2 = (i: number) => (i >= 1 && i < k ? (betaSquared[i - 1] as number) : 0);
  // Gershgorin: every eigenvalue lies in [α_i − |β_i| − |β_{i+1}|, α_i + |β_i| + |β_{i+1}|].
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < k; i++) {
    const radius = Math.sqrt(b2(i)) + Math.sqrt(b2(i + 1));
    lo = Math.min(lo, a(i) - radius);
    hi = Math.max(hi, a(i) + radius);
  }
  // Eigenvalues of T below x: the negative pivots of the LDLᵀ factorisation of T − x·I.
  const below = (x: number) => {
    let count = 0;
    let d = 1;
    for (let i = 0; i < k; i++) {
      d = a(i) - x - (i > 0 ? b2(i) / d : 0);
      if (d === 0) d = -Number.EPSILON * (Math.abs(x) + 1);
      if (d < 0) count++;
    }
    return count;
  };
  // The largest eigenvalue is the x where the count reaches k.
  for (let it = 0; it < 200 && hi - lo > 4 * Number.EPSILON * Math.max(Math.abs(lo), Math.abs(hi)); it++) {
    const mid = (lo + hi) / 2;
    if (below(mid) === k) hi = mid;
    else lo = mid;
  }
  return hi;
}
