// The dispatches of shaders/srsi.wgsl: the thin QR of an S-RSI sketch (shifted CholeskyQR3), the
// eigendecomposition of the Gram of U with the rank rule, and the rotation of the sketch into the
// new factors. Each returns a Dispatch for the caller to record with the rest of its step, so that
// nothing is read back between them. The float64 versions they are tested against live in
// srsi.reference.ts.

import body from '../../../shaders/srsi.wgsl?raw';
import { formatBytes, GpuLimitError } from '../../gpu/errors';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import { foldGrid, packParams } from '../../kernels/params';
import { PASS_BLOCK, withOptimizerParams } from './passes';

const code = withOptimizerParams(body);

/** Floats of the per-matrix scratch the QR and the eigensolver share (srsi.wgsl's `work`). */
export function sketchWorkFloats(w: number): number {
  return 3 * w * w + 2 * Math.ceil(w / 2) + w;
}

/** Floats of a matrix's record in the scalar buffer: ξ_0…ξ_w, then the chosen rank. */
export function recordFloats(w: number): number {
  return w + 2;
}

/**
 * The QR, the eigensolver and the rotation bind the sketch (long × w), the scratch and the new
 * factors whole (the single-workgroup kernels cannot window). Throws a GpuLimitError naming what
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
    ['sketch (long side × w)', long * w],
    ['sketch (short side × w)', short * w],
    ['w × w scratch', sketchWorkFloats(w)],
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

function params(
  n: number,
  cols: number,
  offsets: readonly number[],
  scalars: readonly number[] = [],
): ArrayBuffer {
  return packParams([
    ['u32', n],
    ['u32', 0],
    ['u32', cols],
    ['u32', 0],
    ...Array.from({ length: 8 }, (_, i): ['u32', number] => ['u32', offsets[i] ?? 0]),
    ...Array.from({ length: 12 }, (_, i): ['f32', number] => ['f32', scalars[i] ?? 0]),
  ]);
}

const pipeline = (rt: GpuRuntime, entryPoint: string) => rt.pipeline({ name: 'srsi', code, entryPoint });

/**
 * Y (rows × w, row-major, whole buffer) ← its orthonormal factor Q, in one workgroup; with
 * `basisOnly`, a well-conditioned basis of the same span (the two shifted passes without the
 * closing CholeskyQR2), enough for the power iterations before the last.
 */
export async function choleskyQr3(
  rt: GpuRuntime,
  y: GPUBuffer,
  work: GPUBuffer,
  rows: number,
  w: number,
  basisOnly = false,
): Promise<Dispatch> {
  return {
    pipeline: await pipeline(rt, 'cholesky_qr3'),
    uniforms: params(rows, 1, [0, 0, w, basisOnly ? 0 : 2]),
    storage: [y, work],
    workgroups: [1],
  };
}

export interface EigenRankArgs {
  /** rows × w, scaled by 1 / max V. */
  u: GPUBuffer;
  rows: number;
  w: number;
  work: GPUBuffer;
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
    pipeline: await pipeline(rt, 'eigen_rank'),
    uniforms: params(a.rows, 1, [0, 0, a.w, a.slot, a.record, a.kMin, a.kCap], [a.threshold]),
    storage: [a.u, a.work, a.scalars],
    workgroups: [1],
  };
}

export interface RotateArgs {
  q: GPUBuffer;
  u: GPUBuffer;
  work: GPUBuffer;
  scalars: GPUBuffer;
  slot: number;
  short: number;
  long: number;
  w: number;
  k: number;
  stride: number;
  qOut: GPUBuffer;
  uOut: GPUBuffer;
}

/** Q·E_k and max V · U·E_k into the stored factors (row length `stride`). */
export async function rotateFactors(rt: GpuRuntime, a: RotateArgs): Promise<Dispatch> {
  const n = (a.short + a.long) * a.stride;
  return {
    pipeline: await pipeline(rt, 'rotate_factors'),
    uniforms: params(n, a.stride, [a.short, a.w, a.k, 2 * a.w * a.w, a.slot]),
    storage: [a.q, a.u, a.work, a.scalars, a.qOut, a.uOut],
    workgroups: foldGrid(Math.ceil(n / PASS_BLOCK), rt.limits.maxComputeWorkgroupsPerDimension),
  };
}
