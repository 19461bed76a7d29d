// The dispatches of shaders/train/optim/srsi.wgsl: the thin QR of an S-RSI sketch (shifted CholeskyQR3), the
// eigendecomposition of the Gram of U with the rank rule, and the rotation of the sketch into the
// new factors. Each returns a Dispatch for the caller to record with the rest of its step, so that
// nothing is read back between them. The float64 versions they are tested against live in
// srsi.reference.ts.

import { formatBytes, GpuLimitError } from '../../gpu/errors';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import { foldGrid } from '../../kernels/params';
import { adapproxKernels } from './adapproxKernels';
import { PASS_BLOCK } from './passes';

/** Floats of the per-matrix scratch the QR and the eigensolver share (srsi.wgsl's `work`). */
export function sketchWorkFloats(w: number): number {
  return 3 * w * w + 2 * Math.ceil(w / 2) + w;
}

/**
 * Floats of the work the QR and the eigensolver keep in workgroup memory where it fits (srsi.wgsl
 * `wk`): the eigensolver's A, E and rotations, which hold more than the QR's Gram and diagonals.
 */
export function workgroupWorkFloats(w: number): number {
  return 2 * w * w + 2 * Math.ceil(w / 2);
}

/**
 * Invocations of the single-workgroup QR and eigensolver (srsi.wgsl's WG): 64 on a CPU adapter; 256
 * on a GPU, where the one workgroup is all the parallelism these kernels have (the QR's triangular
 * solve takes one row of Y per invocation, the Jacobi rounds a pair's blocks per few invocations).
 */
export function soloGroup(rt: GpuRuntime): number {
  return rt.capability.isFallbackAdapter ? 64 : 256;
}

/**
 * Invocations of a matrix's one-workgroup S-RSI (srsi_small, and each workgroup of srsi_batch): 4 on
 * a CPU adapter, 64 on a GPU. SwiftShader runs a workgroup as SIMD groups of 4 invocations, each a
 * coroutine that yields at every barrier; at 4 the workgroup is one group, and the tiny preset's
 * batch took 27.8–28.2 ms a step against 29.1–29.6 at 8 (bench/README.md).
 */
export function srsiWorkgroup(rt: GpuRuntime): number {
  return rt.capability.isFallbackAdapter ? 4 : 64;
}

/**
 * The pipeline constants of a single-workgroup S-RSI kernel of `group` invocations (default
 * soloGroup) for sketches up to w wide. WK_FLOATS is all the workgroup memory the device leaves
 * beside the kernels' other workgroup variables (eg_norms, 8 bytes per invocation, and two flags),
 * the same for every width so that one pipeline serves them all (the ranks, and so w, change from
 * step to step; a pipeline per width compiled in the middle of training), or 1 (the work stays in
 * the sketch) where the work does not fit it. With an H200's 48 KiB and 256 invocations that is up
 * to w = 76; with SwiftShader's 32 KiB and 4 or 8 invocations up to w = 63.
 */
export function workOverrides(
  rt: GpuRuntime,
  w: number,
  group = soloGroup(rt),
): { WG: number; WK_FLOATS: number } {
  // Dawn counts each workgroup variable rounded up to 16 bytes: the two flags take 32.
  const room = 4 * Math.floor((rt.limits.maxComputeWorkgroupStorageSize - 8 * group - 32) / 16);
  return { WG: group, WK_FLOATS: workgroupWorkFloats(w) <= room ? room : 1 };
}

/** Where a matrix's sketch buffer holds Ω/U (long × w), Y/Q (short × w) and the scratch. */
export function sketchLayout(short: number, long: number, w: number) {
  const y0 = long * w;
  const g0 = y0 + short * w;
  return { u0: 0, y0, g0, floats: g0 + sketchWorkFloats(w) };
}

/** Floats of a matrix's record in the scalar buffer: ξ_0…ξ_w, then the chosen rank. */
export function recordFloats(w: number): number {
  return w + 2;
}

/**
 * The QR, the eigensolver and the rotation bind the sketch buffer (Ω, Y and the scratch) and the
 * new factors whole (the single-workgroup kernels cannot window). Throws a GpuLimitError naming what
 * to lower when one would not fit this device's storage binding.
 */
export function checkSketchFits(
  rt: GpuRuntime,
  name: string,
  sizes: { short: number; long: number; w: number; stride: number },
): void {
  const limit = rt.limits.maxStorageBufferBindingSize;
  const { short, long, w, stride } = sizes;
  const parts: [string, number][] = [
    ['sketch ((m + n)·w and the w × w scratch)', sketchLayout(short, long, w).floats],
    ['factor U (long side × rank)', long * stride],
  ];
  for (const [what, floats] of parts) {
    if (4 * floats > limit)
      throw new GpuLimitError(
        `Adapprox: "${name}" needs its ${what} in one storage binding (${formatBytes(4 * floats)} > ` +
          `${formatBytes(limit)}, sketch width w = ${w}); lower k_max or the oversampling p, or raise ` +
          `denseBelow so that this matrix keeps a dense V`,
      );
  }
}

/**
 * Y (rows × w at y0 of the sketch) ← its orthonormal factor Q, in one workgroup, with the scratch
 * at g0 and rows × w floats at `spare` that it may overwrite (its passes alternate between Y's place
 * and that one); with `basisOnly`, a well-conditioned basis of the same span (the two shifted passes
 * without the closing CholeskyQR2), enough for the power iterations before the last.
 */
export async function choleskyQr3(
  rt: GpuRuntime,
  a: {
    sketch: GPUBuffer;
    rows: number;
    w: number;
    y0: number;
    g0: number;
    spare: number;
    basisOnly?: boolean;
  },
): Promise<Dispatch> {
  return {
    pipeline: await adapproxKernels.cholesky_qr3.pipeline(rt, 'cholesky_qr3', workOverrides(rt, a.w)),
    uniforms: adapproxKernels.cholesky_qr3.pack({
      rows: a.rows,
      y: a.y0,
      work: a.g0,
      w: a.w,
      plain: a.basisOnly ? 0 : 2,
      spare: a.spare,
    }),
    storage: [a.sketch],
    workgroups: [1],
  };
}

export interface EigenRankArgs {
  sketch: GPUBuffer;
  /** U (rows × w at u0 of the sketch, scaled by 1 / max V); the scratch at g0. */
  rows: number;
  w: number;
  u0: number;
  g0: number;
  /** Holds the parameter's slot (Σ (V / max V)² at +4) and receives the record. */
  scalars: GPUBuffer;
  slot: number;
  record: number;
  kMin: number;
  kCap: number;
  threshold: number;
}

/** The eigenpairs of UᵀU, ξ_0…ξ_w and the chosen rank into scalars[record…], in one workgroup. */
export async function eigenRank(rt: GpuRuntime, a: EigenRankArgs): Promise<Dispatch> {
  return {
    pipeline: await adapproxKernels.eigen_rank.pipeline(rt, 'eigen_rank', workOverrides(rt, a.w)),
    uniforms: adapproxKernels.eigen_rank.pack({
      rows: a.rows,
      u: a.u0,
      work: a.g0,
      w: a.w,
      slot: a.slot,
      record: a.record,
      k_min: a.kMin,
      k_cap: a.kCap,
      threshold: a.threshold,
    }),
    storage: [a.sketch, a.scalars],
    workgroups: [1],
  };
}

export interface SmallArgs {
  /** rows × cols, whole; oriented short × long, transposed when rows > cols. */
  v: GPUBuffer;
  rows: number;
  cols: number;
  w: number;
  sketch: GPUBuffer;
  scalars: GPUBuffer;
  slot: number;
  record: number;
  kMin: number;
  kCap: number;
  threshold: number;
  key: number;
  iterations: number;
  /** The warm start: the previous U (long × k, row length stride). */
  warm?: { u: GPUBuffer; k: number; stride: number };
  /** Any buffer the dispatch does not otherwise bind: it stands in for U_prev without a warm start. */
  spare: GPUBuffer;
  /** Invocations of the workgroup (srsi.wgsl's WG); default srsiWorkgroup. */
  group?: number;
}

/** The whole S-RSI of one small matrix (Ω, l power iterations, eigen and rank) in one workgroup. */
export async function srsiSmall(rt: GpuRuntime, a: SmallArgs): Promise<Dispatch> {
  const short = Math.min(a.rows, a.cols);
  const long = Math.max(a.rows, a.cols);
  return {
    pipeline: await adapproxKernels.srsi_small.pipeline(
      rt,
      'srsi_small',
      workOverrides(rt, a.w, a.group ?? srsiWorkgroup(rt)),
    ),
    uniforms: adapproxKernels.srsi_small.pack({
      short,
      long,
      cols: a.cols,
      w: a.w,
      transpose: a.rows > a.cols ? 1 : 0,
      slot: a.slot,
      record: a.record,
      k_min: a.kMin,
      k_cap: a.kCap,
      key: a.key,
      l: a.iterations,
      taken: a.warm?.k ?? 0,
      threshold: a.threshold,
      u_stride: a.warm?.stride ?? 0,
    }),
    storage: [a.sketch, a.scalars, a.v, a.warm?.u ?? a.spare],
    workgroups: [1],
  };
}

export interface RotateArgs {
  sketch: GPUBuffer;
  scalars: GPUBuffer;
  slot: number;
  short: number;
  long: number;
  w: number;
  k: number;
  stride: number;
  qOut: GPUBuffer;
  uOut: GPUBuffer;
  /** Where the matrix's sketch starts in `sketch` (a batch's shared buffer); default 0. */
  base?: number;
}

/** Q·E_k and max V · U·E_k from the sketch into the stored factors (row length `stride`). */
export async function rotateFactors(rt: GpuRuntime, a: RotateArgs): Promise<Dispatch> {
  const n = (a.short + a.long) * a.stride;
  const { u0, y0, g0 } = sketchLayout(a.short, a.long, a.w);
  const base = a.base ?? 0;
  return {
    pipeline: await adapproxKernels.rotate_factors.pipeline(rt),
    uniforms: adapproxKernels.rotate_factors.pack({
      n,
      stride: a.stride,
      short: a.short,
      w: a.w,
      k: a.k,
      e: base + g0 + 2 * a.w * a.w,
      slot: a.slot,
      u: base + u0,
      q: base + y0,
    }),
    storage: [a.sketch, a.scalars, a.qOut, a.uOut],
    workgroups: foldGrid(Math.ceil(n / PASS_BLOCK), rt.limits.maxComputeWorkgroupsPerDimension),
  };
}
