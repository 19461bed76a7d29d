import { describe, expect, it } from 'vitest';
import { compareToTorch, formatComparison, parseStages, summarize, type TorchRow } from './deviceReport';
import type { BenchRow, ProductDims } from './row';

function ours(
  name: string,
  kind: BenchRow['kind'],
  product: ProductDims | undefined,
  gflops: number,
  gpuGflops?: number,
): BenchRow {
  const flops = product ? 2 * product.m * product.n * product.k : 0;
  return {
    group: 'g',
    name,
    kind,
    layout: 'A·B',
    shape: product ? `${product.m}×${product.n}×${product.k}` : '64 B',
    ...(product ? { product } : {}),
    flops,
    executedFlops: flops,
    bytes: 0,
    runs: 3,
    firstMs: 1,
    timesMs: [1, 1, 1],
    medianMs: flops / gflops / 1e6,
    minMs: 1,
    maxMs: 1,
    gflops,
    gbps: 0,
    fracPeakMatmul: null,
    fracPeakCopy: null,
    js: null,
    vsJs: null,
    maxRelError: null,
    otherCpu: 0,
    gpuMs: gpuGflops === undefined ? null : flops / gpuGflops / 1e6,
    gpuGflops: gpuGflops ?? null,
  };
}

function torch(
  dims: ProductDims,
  kind: string,
  dtype: string,
  gflops: number | null,
  error?: string,
): TorchRow {
  return {
    group: 'g',
    name: 'x',
    kind,
    dtype,
    ...dims,
    ...(gflops === null ? {} : { gflops, medianMs: (2 * dims.m * dims.n * dims.k) / gflops / 1e6 }),
    ...(error ? { error } : {}),
  };
}

// Awkward, distinct shapes: a product must match on every dimension and both layout flags.
const ab: ProductDims = { m: 7, n: 13, k: 5, transA: false, transB: false };
const abT: ProductDims = { ...ab, transB: true };
const gram: ProductDims = { m: 13, n: 13, k: 7, transA: true, transB: false };

describe('compareToTorch', () => {
  it('divides our GFLOP/s by the same product in each dtype, layout and kind included', () => {
    const rows = compareToTorch(
      [ours('ab', 'matmul', ab, 30), ours('abT', 'matmul', abT, 10), ours('gram', 'gram', gram, 4)],
      [
        // Decoys first: same sizes, other layout or kind, must not be picked.
        torch(ab, 'matmul', 'float32', 1000),
        torch(abT, 'matmul', 'float32', 40),
        torch(abT, 'matmul', 'bfloat16', 200),
        torch({ ...gram, transA: false }, 'gram', 'float32', 999),
        torch(gram, 'matmul', 'float32', 998),
        torch(gram, 'gram', 'float32', 16),
        torch(gram, 'gram', 'bfloat16', null, 'RuntimeError: no bf16 here'),
        torch(ab, 'matmul', 'bfloat16', 300),
      ],
    );
    expect(rows.map((r) => r.name)).toEqual(['ab', 'abT', 'gram']);
    const [r1, r2, r3] = rows;
    expect(r1?.fracOfFloat32).toBeCloseTo(30 / 1000, 12);
    expect(r1?.fracOfBfloat16).toBeCloseTo(30 / 300, 12);
    expect(r2?.fracOfFloat32).toBeCloseTo(10 / 40, 12);
    expect(r2?.fracOfBfloat16).toBeCloseTo(10 / 200, 12);
    expect(r2?.bfloat16?.medianMs).toBeCloseTo((2 * 7 * 13 * 5) / 200 / 1e6, 15);
    expect(r3?.fracOfFloat32).toBeCloseTo(4 / 16, 12);
    expect(r3?.fracOfBfloat16).toBeNull();
    expect(r3?.torchErrors).toEqual(['bfloat16: RuntimeError: no bf16 here']);
  });

  it('skips the copy, failed rows and rows without dimensions, and says when torch never timed one', () => {
    const failed = { ...ours('failed', 'matmul', ab, 1), error: 'GpuLimitError: too big' };
    const rows = compareToTorch(
      [
        ours('copy', 'copy', undefined, 0),
        failed,
        ours('old', 'matmul', undefined, 5),
        ours('ab', 'matmul', ab, 2),
      ],
      [],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.fracOfFloat32).toBeNull();
    expect(rows[0]?.torchErrors).toEqual(['float32: not timed', 'bfloat16: not timed']);
  });
});

describe('summarize', () => {
  it('gives the median fraction and the best and worst products, ignoring products without one', () => {
    const rows = compareToTorch(
      [ours('a', 'matmul', ab, 1), ours('b', 'matmul', abT, 3), ours('c', 'gram', gram, 2)],
      [
        torch(ab, 'matmul', 'float32', 10),
        torch(abT, 'matmul', 'float32', 10),
        torch(gram, 'gram', 'float32', 10),
      ],
    );
    const s = summarize(rows, 'float32');
    expect(s.count).toBe(3);
    expect(s.median).toBeCloseTo(0.2, 12);
    expect(s.best).toEqual({ case: 'g · b', frac: expect.closeTo(0.3, 12) });
    expect(s.worst).toEqual({ case: 'g · a', frac: expect.closeTo(0.1, 12) });
    // Two products: the median is their mean.
    expect(summarize(rows.slice(0, 2), 'float32').median).toBeCloseTo(0.2, 12);
    expect(summarize(rows, 'bfloat16')).toEqual({ count: 0, median: null, best: null, worst: null });
  });
});

describe('parseStages', () => {
  it('reads exit statuses, timeouts and skipped stages', () => {
    const stages = parseStages(
      'unpack\t0\t3\t0\nkernels\t124\t300\t300\ntorch\tskipped: no python\t0\t0\n\n',
    );
    expect(stages).toEqual([
      { name: 'unpack', status: 0, seconds: 3, limitSeconds: 0, timedOut: false },
      { name: 'kernels', status: 124, seconds: 300, limitSeconds: 300, timedOut: true },
      { name: 'torch', status: 'skipped: no python', seconds: 0, limitSeconds: 0, timedOut: false },
    ]);
  });
});

describe('formatComparison', () => {
  it('prints one line per product with both fractions, a dash where torch has none', () => {
    const rows = compareToTorch([ours('ab', 'matmul', ab, 30)], [torch(ab, 'matmul', 'float32', 60)]);
    const lines = formatComparison(rows, 'cpu').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^g · ab\s+7×13×5\s+A·B\s+.*\b30\.0\s+60\.0\s+50%\s+–\s+–\s+–\s+–\s+–$/);
  });

  it('adds our GPU-clock rate and its fractions where the row has one', () => {
    const rows = compareToTorch([ours('ab', 'matmul', ab, 30, 45)], [torch(ab, 'matmul', 'float32', 60)]);
    expect(rows[0]?.gpuFracOfFloat32).toBeCloseTo(0.75, 12);
    expect(rows[0]?.gpuFracOfBfloat16).toBeNull();
    expect(summarize(rows, 'float32', 'gpu').median).toBeCloseTo(0.75, 12);
    expect(summarize(rows, 'float32').median).toBeCloseTo(0.5, 12);
    const lines = formatComparison(rows, 'cpu').split('\n');
    expect(lines[2]).toMatch(/\b45\.0\s+75%\s+–$/);
  });
});
