// Compressed sparse weights against dense (src/sparse/): y = W·x, the memory-bound product of a
// linear layer with one token, at OPT-125M's shapes (q/k/v/out_proj 768×768, fc1 3072×768, fc2
// 768×3072) and LLaMA-7B's (4096×4096 attention, 11008×4096 MLP, not in --quick), for W stored
// dense (the existing matvec kernel on a 2:4-pruned matrix: what a pruned model costs today), 2:4
// compressed and 50% unstructured in the bitmask format and in the sliced format (slicedMatvec);
// and Y = X·Wᵀ over many tokens at one shape
// for 2:4 (nmMatmul) and 50% unstructured (bitmaskMatmul) against the dense matmul, the bitmask also
// against what sparseLinear ran before bitmaskMatmul existed: bitmaskMatvec once per token. Each timed run records `reps` products in one submission
// and then waits (submit → rt.sync()), so the round trip, which on a GPU dwarfs a single 768×768
// product, is shared by all of them; ms are per product. The ratio to dense is dense ms / ms, both
// from this run (× per-token likewise, per-token ms / ms). GB/s counts the fewest bytes one product moves: its weights as stored, x read and
// y written once each.

import { formatBytes } from '../src/gpu/errors';
import type { Dispatch, GpuRuntime } from '../src/gpu/runtime';
import { matmulDispatches } from '../src/kernels/matmul';
import { matvec } from '../src/kernels/matvec';
import { chooseMatvecKernel } from '../src/kernels/matvecKernel';
import { Random } from '../src/kernels/random';
import { encodeBitmask } from '../src/sparse/bitmaskFormat';
import { bitmaskMatmulDispatches } from '../src/sparse/bitmaskMatmul';
import { bitmaskMatvecDispatches } from '../src/sparse/bitmaskMatvec';
import { encodeNm } from '../src/sparse/nmFormat';
import { nmMatmulDispatches } from '../src/sparse/nmMatmul';
import { nmMatvecDispatches } from '../src/sparse/nmMatvec';
import { randomNmDense, randomUnstructuredDense } from '../src/sparse/randomSparse';
import { encodeSliced } from '../src/sparse/slicedFormat';
import { slicedMatvecDispatches } from '../src/sparse/slicedMatvec';
import { type BitmaskOnGpu, type NmOnGpu, uploadCompressed, uploadSliced } from '../src/sparse/upload';
import { gpuMsOf, timeRuns } from './measure';
import { alignedRows, num } from './table';

export interface SparseRow {
  product: 'W·x' | 'X·Wᵀ';
  shape: string;
  /** W's rows × cols, and tokens for X·Wᵀ (1 for W·x). */
  rows: number;
  cols: number;
  tokens: number;
  weights: 'dense' | '2:4' | 'unstructured 50%';
  /** The kernel that ran (bitmaskMatvec × tokens: one matrix–vector product per token). */
  kernel: string;
  /** Bytes of W as stored (as the ledger counts its buffers). */
  weightBytes: number;
  /** Products per timed run (one submission). */
  reps: number;
  runs: number;
  /** Per product. */
  medianMs: number;
  gbps: number;
  /** FLOPs actually multiplied (2 per stored weight per token), per product. */
  flops: number;
  gflops: number;
  /** Dense ms / this row's ms, same shape and run (1 for dense). */
  vsDense: number;
  /**
   * GPU time per product (µs), from one more run on the GPU's clock (timestamp queries around the
   * passes): the kernels alone, without the host's cost of recording them, which on a GPU can
   * exceed a small product's; null without timestamp queries.
   */
  gpuUs: number | null;
  /** Dense GPU µs / this row's, same shape and run; null without timestamps. */
  gpuVsDense: number | null;
  /** For the unstructured X·Wᵀ rows: the per-token bitmaskMatvec path's ms / this row's ms. */
  vsPerToken?: number;
  error?: string;
}

const SHAPES: { name: string; rows: number; cols: number; quick: boolean }[] = [
  { name: 'OPT-125M q/k/v/out_proj', rows: 768, cols: 768, quick: true },
  { name: 'OPT-125M fc1', rows: 3072, cols: 768, quick: true },
  { name: 'OPT-125M fc2', rows: 768, cols: 3072, quick: true },
  { name: 'LLaMA-7B q/k/v/o', rows: 4096, cols: 4096, quick: true },
  { name: 'LLaMA-7B gate/up', rows: 11008, cols: 4096, quick: false },
];

async function timeDispatches(
  rt: GpuRuntime,
  dispatches: Dispatch[],
  reps: number,
  runs: number,
): Promise<{ ms: number; gpuUs: number | null }> {
  const all = Array.from({ length: reps }, () => dispatches).flat();
  return timeProducts(rt, reps, runs, async () => {
    rt.submit(all);
    await rt.sync();
  });
}

/** Wall ms per product over the timed runs of `once` (reps products), and GPU µs from one more. */
async function timeProducts(
  rt: GpuRuntime,
  reps: number,
  runs: number,
  once: () => Promise<void>,
): Promise<{ ms: number; gpuUs: number | null }> {
  const timing = await timeRuns(runs, once);
  const gpuMs = await gpuMsOf(rt, once);
  return { ms: timing.medianMs / reps, gpuUs: gpuMs === null ? null : (1000 * gpuMs) / reps };
}

export async function benchSparse(
  rt: GpuRuntime,
  quick: boolean,
  runsOption: number | null,
): Promise<SparseRow[]> {
  const runs = runsOption ?? (quick ? 3 : 5);
  // Enough products per submission that one timed run reads this many bytes of dense weights.
  const targetBytes = (quick ? 32 : 128) * 2 ** 20;
  const random = new Random(24);
  // The matrix–vector kernels the adapter runs (workgroup or direct), named in the kernel column.
  const kind = chooseMatvecKernel(rt);
  const out: SparseRow[] = [];
  for (const shape of SHAPES.filter((s) => s.quick || !quick)) {
    const { rows, cols } = shape;
    const reps = Math.max(1, Math.round(targetBytes / (4 * rows * cols)));
    const label = `${shape.name} ${rows}×${cols}`;
    process.stderr.write(`  sparse · W·x ${label} (${runs} runs of ${reps}) … `);
    const x = await rt.upload('sparse bench x', 'activations', random.uniform(cols));
    const y = await rt.createBuffer('sparse bench y', 'activations', 4 * rows);
    const row = (
      weights: SparseRow['weights'],
      kernel: string,
      weightBytes: number,
      stored: number,
      { ms, gpuUs }: { ms: number; gpuUs: number | null },
      dense: { ms: number; gpuUs: number | null },
    ) => ({
      product: 'W·x' as const,
      shape: label,
      rows,
      cols,
      tokens: 1,
      weights,
      kernel,
      weightBytes,
      reps,
      runs,
      medianMs: ms,
      gbps: (weightBytes + 4 * (rows + cols)) / ms / 1e6,
      flops: 2 * stored,
      gflops: (2 * stored) / ms / 1e6,
      vsDense: dense.ms / ms,
      gpuUs,
      gpuVsDense: gpuUs && dense.gpuUs ? dense.gpuUs / gpuUs : null,
    });
    try {
      const w24 = randomNmDense(random, rows, cols, 2, 4);
      const dense = await rt.upload('sparse bench dense W', 'weights', w24);
      let denseMs: { ms: number; gpuUs: number | null };
      try {
        // matvec's wrapper submits itself: time it the same way, reps calls per timed run.
        denseMs = await timeProducts(rt, reps, runs, async () => {
          for (let r = 0; r < reps; r++)
            await matvec(rt, { a: dense.buffer, x: x.buffer, y: y.buffer, rows, cols });
          await rt.sync();
        });
      } finally {
        dense.destroy();
      }
      out.push(row('dense', `matvec ${kind}`, 4 * rows * cols, rows * cols, denseMs, denseMs));
      const nm = (await uploadCompressed(
        rt,
        encodeNm('W', w24, rows, cols, 2, 4),
        'sparse bench 2:4 W',
      )) as NmOnGpu;
      try {
        const ms = await timeDispatches(
          rt,
          await nmMatvecDispatches(rt, { weights: nm, x: x.buffer, y: y.buffer }),
          reps,
          runs,
        );
        out.push(row('2:4', `nmMatvec ${kind}`, nm.bytes, (rows * cols) / 2, ms, denseMs));
      } finally {
        nm.destroy();
      }
      const unDense = randomUnstructuredDense(random, rows, cols, 0.5);
      const matrix = encodeBitmask('W', unDense, rows, cols);
      const un = (await uploadCompressed(rt, matrix, 'sparse bench unstructured W')) as BitmaskOnGpu;
      try {
        const ms = await timeDispatches(
          rt,
          await bitmaskMatvecDispatches(rt, { weights: un, x: x.buffer, y: y.buffer }),
          reps,
          runs,
        );
        out.push(
          row('unstructured 50%', `bitmaskMatvec ${kind}`, un.bytes, matrix.values.length, ms, denseMs),
        );
      } finally {
        un.destroy();
      }
      // The same W in the sliced format (src/sparse/slicedFormat.ts): a measured option, not what
      // sparseLinear runs.
      const sliced = await uploadSliced(rt, encodeSliced('W', unDense, rows, cols), 'sparse bench sliced W');
      try {
        const ms = await timeDispatches(
          rt,
          await slicedMatvecDispatches(rt, { weights: sliced, x: x.buffer, y: y.buffer }),
          reps,
          runs,
        );
        out.push(row('unstructured 50%', 'slicedMatvec', sliced.bytes, matrix.values.length, ms, denseMs));
      } finally {
        sliced.destroy();
      }
      const last = out.slice(-4);
      process.stderr.write(
        `${last.map((r) => `${r.kernel.split(' ')[0]} ${num(r.medianMs, 4)} ms`).join(', ')}\n`,
      );
    } catch (error) {
      process.stderr.write('FAILED\n');
      const none = { ms: Number.NaN, gpuUs: null };
      out.push({ ...row('dense', 'matvec', Number.NaN, 0, none, none), error: String(error) });
      if (rt.isLost) break;
    } finally {
      x.destroy();
      y.destroy();
    }
  }
  if (!rt.isLost) out.push(...(await benchSparseMatmul(rt, quick, runs, random)));
  return out;
}

/**
 * Y = X·Wᵀ for OPT-125M's fc1 (W 3072×768) over a window of tokens: 2:4 (nmMatmul) and 50%
 * unstructured (bitmaskMatmul) against the dense matmul; the unstructured W also through
 * bitmaskMatvec once per token (sparseLinear's path before bitmaskMatmul), in one submission.
 */
async function benchSparseMatmul(
  rt: GpuRuntime,
  quick: boolean,
  runs: number,
  random: Random,
): Promise<SparseRow[]> {
  const [rows, cols, tokens] = [3072, 768, quick ? 32 : 128];
  const label = `OPT-125M fc1 ${rows}×${cols}, ${tokens} tokens`;
  process.stderr.write(`  sparse · X·Wᵀ ${label} (${runs} runs) … `);
  const x = await rt.upload('sparse bench X', 'activations', random.uniform(tokens * cols));
  const y = await rt.createBuffer('sparse bench Y', 'activations', 4 * tokens * rows);
  const row = (
    weights: SparseRow['weights'],
    kernel: string,
    weightBytes: number,
    stored: number,
    { ms, gpuUs }: { ms: number; gpuUs: number | null },
    dense: { ms: number; gpuUs: number | null },
  ) => ({
    product: 'X·Wᵀ' as const,
    shape: label,
    rows,
    cols,
    tokens,
    weights,
    kernel,
    weightBytes,
    reps: 1,
    runs,
    medianMs: ms,
    gbps: (weightBytes + 4 * tokens * (rows + cols)) / ms / 1e6,
    flops: 2 * stored * tokens,
    gflops: (2 * stored * tokens) / ms / 1e6,
    vsDense: dense.ms / ms,
    gpuUs,
    gpuVsDense: gpuUs && dense.gpuUs ? dense.gpuUs / gpuUs : null,
  });
  const out: SparseRow[] = [];
  try {
    const w24 = randomNmDense(random, rows, cols, 2, 4);
    const dense = await rt.upload('sparse bench dense W', 'weights', w24);
    let denseMs: { ms: number; gpuUs: number | null };
    try {
      const product = await matmulDispatches(rt, {
        a: x.buffer,
        b: dense.buffer,
        c: y.buffer,
        m: tokens,
        n: rows,
        k: cols,
        transB: true,
      });
      denseMs = await timeDispatches(rt, product, 1, runs);
    } finally {
      dense.destroy();
    }
    out.push(row('dense', 'matmul', 4 * rows * cols, rows * cols, denseMs, denseMs));
    const nm = (await uploadCompressed(
      rt,
      encodeNm('W', w24, rows, cols, 2, 4),
      'sparse bench 2:4 W',
    )) as NmOnGpu;
    try {
      const ms = await timeDispatches(
        rt,
        await nmMatmulDispatches(rt, { weights: nm, x: x.buffer, y: y.buffer, tokens }),
        1,
        runs,
      );
      out.push(row('2:4', 'nmMatmul', nm.bytes, (rows * cols) / 2, ms, denseMs));
    } finally {
      nm.destroy();
    }
    const matrix = encodeBitmask('W', randomUnstructuredDense(random, rows, cols, 0.5), rows, cols);
    const un = (await uploadCompressed(rt, matrix, 'sparse bench unstructured W')) as BitmaskOnGpu;
    try {
      const stored = matrix.values.length;
      const matmulMs = await timeDispatches(
        rt,
        await bitmaskMatmulDispatches(rt, { weights: un, x: x.buffer, y: y.buffer, tokens }),
        1,
        runs,
      );
      const perToken: Dispatch[] = [];
      for (let t = 0; t < tokens; t++)
        perToken.push(
          ...(await bitmaskMatvecDispatches(rt, {
            weights: un,
            x: x.buffer,
            y: y.buffer,
            offsetX: t * cols,
            offsetY: t * rows,
          })),
        );
      const perTokenMs = await timeDispatches(rt, perToken, 1, runs);
      out.push(
        {
          ...row('unstructured 50%', `bitmaskMatvec × ${tokens}`, un.bytes, stored, perTokenMs, denseMs),
          vsPerToken: 1,
        },
        {
          ...row('unstructured 50%', 'bitmaskMatmul', un.bytes, stored, matmulMs, denseMs),
          vsPerToken: perTokenMs.ms / matmulMs.ms,
        },
      );
    } finally {
      un.destroy();
    }
    process.stderr.write(`${out.map((r) => `${r.weights} ${num(r.medianMs, 4)} ms`).join(', ')}\n`);
  } catch (error) {
    process.stderr.write('FAILED\n');
    const none = { ms: Number.NaN, gpuUs: null };
    out.push({ ...row('2:4', 'nmMatmul', Number.NaN, 0, none, none), error: String(error) });
  } finally {
    x.destroy();
    y.destroy();
  }
  return out;
}

export function formatSparse(rows: readonly SparseRow[]): string {
  const header = [
    'product',
    'shape',
    'weights',
    'kernel',
    'stored',
    'reps×runs',
    'ms',
    'GB/s',
    'GFLOP/s',
    '× dense',
    '× per-token',
    'GPU µs',
    '× dense, GPU',
  ];
  const lines = rows.map((r) =>
    r.error
      ? [r.product, r.shape, r.weights, r.kernel, `FAILED: ${r.error}`]
      : [
          r.product,
          r.shape,
          r.weights,
          r.kernel,
          formatBytes(r.weightBytes),
          `${r.reps}×${r.runs}`,
          num(r.medianMs, 4),
          num(r.gbps),
          num(r.gflops),
          num(r.vsDense),
          r.vsPerToken === undefined ? '' : num(r.vsPerToken),
          r.gpuUs === null ? 'n/a' : num(r.gpuUs),
          r.gpuVsDense === null ? 'n/a' : num(r.gpuVsDense),
        ],
  );
  return [
    'Sparse weights (src/sparse/): ms per product, × dense = dense ms / ms in this run (> 1 is faster);',
    '× per-token = ms of bitmaskMatvec once per token / ms, same W, same run; GPU µs: per product, the ' +
      'kernels alone on the GPU clock (one more run), and × dense, GPU its ratio',
    ...alignedRows(header, lines, (i) => i < 4),
  ].join('\n');
}
