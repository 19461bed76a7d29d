// General matrix product on the GPU: C = alpha · op(A) · op(B) + beta · C, in the three layouts the
// engine uses (A·B for activations times weights stored in×out, A·Bᵀ for weights stored out×in as
// PyTorch does, Aᵀ·B for Grams and weight gradients). Products whose operands exceed one storage
// binding are split into sub-products over blocks of rows, columns and k, each bound as a window.
// B may be half-precision weights packed two per word (bType, see storage.ts), decoded in the shader.

import halfStorage from '../../shaders/kernels/halfStorage.wgsl?raw';
import tiledBody from '../../shaders/kernels/matmul.wgsl?raw';
import directBody from '../../shaders/kernels/matmulDirect.wgsl?raw';
import shared from '../../shaders/kernels/matmulShared.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { chooseMatmulKernel, MATMUL_KERNELS, MATMUL_TILE, type MatmulKernel } from './matmulKernel';
import { foldGrid } from './params';
import { bindStorageWindow, STORAGE_CODE, type StorageType, storageBytes, storageCapacity } from './storage';
import { bindWindow, planBlocks, span, windowLimits } from './window';

// Both kernels take the same uniform block and bindings.
const UNIFORMS = {
  m: 'u32',
  n: 'u32',
  k: 'u32',
  lda: 'u32',
  ldb: 'u32',
  ldc: 'u32',
  off_a: 'u32',
  off_b: 'u32',
  off_c: 'u32',
  alpha: 'f32',
  beta: 'f32',
  tiles_n: 'u32',
} as const;
const KERNELS = {
  tiled: defineKernel({
    name: 'matmul',
    code: `${halfStorage}\n${shared}\n${tiledBody}`,
    uniforms: UNIFORMS,
  }),
  direct: defineKernel({
    name: 'matmul direct',
    code: `${halfStorage}\n${shared}\n${directBody}`,
    uniforms: UNIFORMS,
  }),
} satisfies Record<MatmulKernel, unknown>;

export interface MatmulArgs {
  a: GPUBuffer;
  b: GPUBuffer;
  c: GPUBuffer;
  /** op(A) is m × k, op(B) is k × n, C is m × n. */
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** Leading dimensions in elements; default to the packed width of each stored matrix. */
  lda?: number;
  ldb?: number;
  ldc?: number;
  /** Element offsets of each matrix inside its buffer (in elements of its storage type). */
  offsetA?: number;
  offsetB?: number;
  offsetC?: number;
  alpha?: number;
  beta?: number;
  /**
   * The caller promises op(A)·op(B) is symmetric (A = B with one side transposed): only the upper
   * triangle of tiles is computed and mirrored.
   */
  symmetric?: boolean;
  /** How B's elements are stored (default f32); ldb and offsetB count elements either way. */
  bType?: StorageType;
  /** Which kernel runs the product; default: the adapter's (matmulKernel.ts). Tests name both. */
  kernel?: MatmulKernel;
}

export async function matmul(rt: GpuRuntime, args: MatmulArgs): Promise<void> {
  rt.submit(await matmulDispatches(rt, args));
}

/** The dispatches of one product, for callers that batch several kernels into one submit. */
export async function matmulDispatches(rt: GpuRuntime, args: MatmulArgs): Promise<Dispatch[]> {
  const { m, n, k } = args;
  const transA = args.transA ?? false;
  const transB = args.transB ?? false;
  const lda = args.lda ?? (transA ? m : k);
  const ldb = args.ldb ?? (transB ? k : n);
  const ldc = args.ldc ?? n;
  const alpha = args.alpha ?? 1;
  const beta = args.beta ?? 0;
  const bType = args.bType ?? 'f32';
  if (!(bType in STORAGE_CODE))
    throw new RangeError(`matmul B: storage type ${bType} is not f32, f16 or bf16`);
  checkShape('A', transA ? k : m, transA ? m : k, lda, args.offsetA ?? 0, args.a, 'f32');
  checkShape('B', transB ? n : k, transB ? k : n, ldb, args.offsetB ?? 0, args.b, bType);
  checkShape('C', m, n, ldc, args.offsetC ?? 0, args.c, 'f32');
  if (args.symmetric && (m !== n || transA === transB)) {
    throw new RangeError('symmetric matmul needs a square result from op(A) = op(B)ᵀ');
  }
  const kernel = args.kernel ?? chooseMatmulKernel(rt);
  if (!MATMUL_KERNELS.includes(kernel)) throw new RangeError(`matmul: no kernel named ${kernel}`);
  const TILE = MATMUL_TILE[kernel];
  if (m === 0 || n === 0) return [];

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const spanA = (bl: Blk) => (transA ? span(bl.k, bl.m, lda) : span(bl.m, bl.k, lda));
  const spanB = (bl: Blk) => (transB ? span(bl.n, bl.k, ldb) : span(bl.k, bl.n, ldb));
  const block = planBlocks<'m' | 'n' | 'k'>(
    { m, n, k: Math.max(k, 1) },
    [
      { measure: (bl) => span(bl.m, bl.n, ldc), limit: capacity, shrink: ['m', 'n'] },
      { measure: spanA, limit: capacity, shrink: transA ? ['k', 'm'] : ['m', 'k'] },
      { measure: spanB, limit: storageCapacity(bType, capacity), shrink: transB ? ['n', 'k'] : ['k', 'n'] },
      // One sub-product's tiles must fit a folded 2-D grid.
      {
        measure: (bl) => Math.ceil(bl.m / TILE) * Math.ceil(bl.n / TILE),
        limit: maxGroups * maxGroups,
        shrink: ['m', 'n'],
      },
    ],
    TILE,
  );
  // Mirroring writes across the diagonal, so it needs the whole of C in one window.
  const symmetric = (args.symmetric ?? false) && block.m === m && block.n === n;
  const pipeline = await KERNELS[kernel].pipeline(rt, 'main', {
    TRANS_A: Number(transA),
    TRANS_B: Number(transB),
    SYMMETRIC: Number(symmetric),
    B_TYPE: STORAGE_CODE[bType],
  });

  const dispatches: Dispatch[] = [];
  for (let i0 = 0; i0 < m; i0 += block.m) {
    const mb = Math.min(block.m, m - i0);
    for (let j0 = 0; j0 < n; j0 += block.n) {
      const nb = Math.min(block.n, n - j0);
      const c = bindWindow(args.c, (args.offsetC ?? 0) + i0 * ldc + j0, span(mb, nb, ldc), align);
      const tilesN = Math.ceil(nb / TILE);
      const tiles = symmetric ? (tilesN * (tilesN + 1)) / 2 : Math.ceil(mb / TILE) * tilesN;
      const workgroups = foldGrid(tiles, maxGroups);
      // k = 0 still runs one pass so that C becomes beta · C.
      for (let k0 = 0; k0 < Math.max(k, 1); k0 += block.k) {
        const kb = Math.min(block.k, k - k0);
        const aFirst = (args.offsetA ?? 0) + (transA ? k0 * lda + i0 : i0 * lda + k0);
        const bFirst = (args.offsetB ?? 0) + (transB ? j0 * ldb + k0 : k0 * ldb + j0);
        const a = bindWindow(args.a, aFirst, Math.max(1, spanA({ m: mb, n: nb, k: kb })), align);
        const b = bindStorageWindow(
          args.b,
          bFirst,
          Math.max(1, spanB({ m: mb, n: nb, k: kb })),
          align,
          bType,
        );
        dispatches.push({
          pipeline,
          uniforms: KERNELS[kernel].pack({
            m: mb,
            n: nb,
            k: kb,
            lda,
            ldb,
            ldc,
            off_a: a.base,
            off_b: b.base,
            off_c: c.base,
            alpha,
            beta: k0 === 0 ? beta : 1,
            tiles_n: tilesN,
          }),
          storage: [a.binding, b.binding, c.binding],
          workgroups,
        });
      }
    }
  }
  return dispatches;
}

type Blk = Record<'m' | 'n' | 'k', number>;

function checkShape(
  name: string,
  rows: number,
  cols: number,
  ld: number,
  offset: number,
  buffer: GPUBuffer,
  type: StorageType,
): void {
  for (const [what, value] of [
    ['rows', rows],
    ['cols', cols],
    ['leading dimension', ld],
    ['offset', offset],
  ] as const) {
    if (!Number.isInteger(value) || value < 0)
      throw new RangeError(`matmul ${name}: ${what} ${value} is invalid`);
  }
  if (rows > 0 && ld < cols)
    throw new RangeError(`matmul ${name}: leading dimension ${ld} < ${cols} columns`);
  const needed = storageBytes(type, offset + span(rows, cols, ld));
  if (needed > buffer.size) {
    throw new RangeError(
      `matmul ${name}: a ${rows}×${cols}${type === 'f32' ? '' : ` ${type}`} matrix (ld ${ld}, offset ${offset}) ` +
        `needs ${needed} bytes, buffer "${buffer.label}" has ${buffer.size}`,
    );
  }
}
