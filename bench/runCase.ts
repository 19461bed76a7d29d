// Runs one case on the GPU runtime and, for products, the JS baseline on the same operands.

import type { GpuRuntime } from '../src/gpu/runtime';
import { accumulateGram } from '../src/kernels/gram';
import { matmul } from '../src/kernels/matmul';
import { Random } from '../src/kernels/random';
import {
  type BenchCase,
  type CopyCase,
  type GramCase,
  layoutName,
  MATMUL_TILE,
  type MatmulCase,
} from './cases';
import { ikjMatmul, type Product, packSlice, sliceRows } from './jsBaseline';
import { gpuMsOf, type Timing, timeRuns } from './measure';
import type { BenchRow, JsBaseline, ProductDims } from './row';

export interface RunPlan {
  runs: number;
  jsTargetFlops: number;
  seed: number;
}

/** The row without the fractions of peak, which need the whole run. */
export async function runCase(rt: GpuRuntime, c: BenchCase, plan: RunPlan): Promise<BenchRow> {
  switch (c.kind) {
    case 'copy':
      return runCopy(rt, c, plan);
    case 'matmul':
      return runMatmul(rt, c, plan);
    case 'gram':
      return runGram(rt, c, plan);
  }
}

async function runCopy(rt: GpuRuntime, c: CopyCase, plan: RunPlan): Promise<BenchRow> {
  // A pattern that is nowhere zero, so a copy that did not happen cannot pass the check below.
  const pattern = new Float32Array(c.bytes / 4);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i % 1021) + 1;
  const src = await rt.upload('bench copy src', 'scratch', pattern);
  const dst = await rt.createBuffer('bench copy dst', 'scratch', c.bytes);
  try {
    const timing = await timeRuns(plan.runs, async () => {
      const encoder = rt.device.createCommandEncoder();
      encoder.copyBufferToBuffer(src.buffer, 0, dst.buffer, 0, c.bytes);
      rt.device.queue.submit([encoder.finish()]);
      await rt.sync();
    });
    const copied = await rt.readF32(dst.buffer);
    const bytes = 2 * c.bytes;
    return {
      group: c.group,
      name: c.name,
      kind: 'copy',
      layout: 'copy',
      shape: `${c.bytes} B`,
      flops: 0,
      executedFlops: 0,
      bytes,
      runs: plan.runs,
      ...timing,
      gflops: 0,
      gbps: bytes / timing.medianMs / 1e6,
      gpuMs: null,
      gpuGflops: null,
      fracPeakMatmul: null,
      fracPeakCopy: null,
      js: null,
      vsJs: null,
      maxRelError: relativeDifference(copied, pattern, 1),
      otherCpu: 0,
    };
  } finally {
    src.destroy();
    dst.destroy();
  }
}

async function runMatmul(rt: GpuRuntime, c: MatmulCase, plan: RunPlan): Promise<BenchRow> {
  const { m, n, k, transA, transB } = c;
  const rng = new Random(plan.seed);
  const product: Product = { m, n, k, transA, transB, a: rng.uniform(m * k), b: rng.uniform(k * n) };
  const a = await rt.upload('bench A', 'activations', product.a);
  const b = await rt.upload('bench B', 'weights', product.b);
  const out = await rt.createBuffer('bench C', 'scratch', m * n * 4);
  try {
    const once = async () => {
      await matmul(rt, { a: a.buffer, b: b.buffer, c: out.buffer, m, n, k, transA, transB });
      await rt.sync();
    };
    const timing = await timeRuns(plan.runs, once);
    const gpuMs = await gpuMsOf(rt, once);
    const flops = 2 * m * n * k;
    const js = await jsBaseline(product, plan);
    const gpuRows = await rt.readF32(out.buffer, 0, js.rows * n * 4);
    const dims = { m, n, k, transA, transB };
    return finishProduct(c, layoutName(c), dims, flops, flops, 4 * (m * k + k * n + m * n), {
      timing,
      gpuMs,
      plan,
      js: js.result,
      error: relativeDifference(gpuRows, js.out, 1),
    });
  } finally {
    a.destroy();
    b.destroy();
    out.destroy();
  }
}

async function runGram(rt: GpuRuntime, c: GramCase, plan: RunPlan): Promise<BenchRow> {
  const { rows, width } = c;
  const x = new Random(plan.seed).uniform(rows * width);
  const xBuf = await rt.upload('bench X', 'activations', x);
  // New buffers are zeroed, and every run adds XᵀX once more.
  const g = await rt.createBuffer('bench G', 'statistics', width * width * 4);
  try {
    let accumulations = 0;
    const once = async () => {
      await accumulateGram(rt, { x: xBuf.buffer, rows, width, g: g.buffer });
      await rt.sync();
      accumulations++;
    };
    const timing = await timeRuns(plan.runs, once);
    const gpuMs = await gpuMsOf(rt, once);
    const flops = 2 * rows * width * width;
    const tiles = Math.ceil(width / MATMUL_TILE);
    const executed = 2 * rows * MATMUL_TILE * MATMUL_TILE * ((tiles * (tiles + 1)) / 2);
    const js = await jsBaseline(
      { m: width, n: width, k: rows, transA: true, transB: false, a: x, b: x },
      plan,
    );
    const gpuRows = await rt.readF32(g.buffer, 0, js.rows * width * 4);
    // G is read and written (G += …), X read once.
    return finishProduct(
      c,
      'XᵀX sym',
      { m: width, n: width, k: rows, transA: true, transB: false },
      flops,
      executed,
      4 * (rows * width + 2 * width * width),
      {
        timing,
        gpuMs,
        plan,
        js: js.result,
        error: relativeDifference(gpuRows, js.out, accumulations),
      },
    );
  } finally {
    xBuf.destroy();
    g.destroy();
  }
}

function finishProduct(
  c: MatmulCase | GramCase,
  layout: string,
  product: ProductDims,
  flops: number,
  executedFlops: number,
  bytes: number,
  measured: { timing: Timing; gpuMs: number | null; plan: RunPlan; js: JsBaseline; error: number },
): BenchRow {
  const { timing, js } = measured;
  const gflops = flops / timing.medianMs / 1e6;
  return {
    group: c.group,
    name: c.name,
    kind: c.kind,
    layout,
    shape: `${product.m}×${product.n}×${product.k}`,
    product,
    flops,
    executedFlops,
    bytes,
    runs: measured.plan.runs,
    ...timing,
    gflops,
    gbps: bytes / timing.medianMs / 1e6,
    gpuMs: measured.gpuMs,
    gpuGflops: measured.gpuMs ? flops / measured.gpuMs / 1e6 : null,
    fracPeakMatmul: null,
    fracPeakCopy: null,
    js,
    vsJs: gflops / js.gflops,
    maxRelError: measured.error,
    otherCpu: 0,
  };
}

async function jsBaseline(
  p: Product,
  plan: RunPlan,
): Promise<{ result: JsBaseline; rows: number; out: Float32Array }> {
  const rows = sliceRows(p, plan.jsTargetFlops);
  const slice = packSlice(p, rows);
  const out = new Float32Array(rows * p.n);
  const { medianMs } = await timeRuns(plan.runs, () => ikjMatmul(slice, out));
  const flops = 2 * rows * p.n * p.k;
  return {
    rows,
    out,
    result: {
      rows,
      totalRows: p.m,
      flops,
      runs: plan.runs,
      medianMs,
      gflops: flops / medianMs / 1e6,
    },
  };
}

/** max |gpu/scale − ref| / max |ref|; `count` undoes repeated accumulation into the same output. */
function relativeDifference(gpu: Float32Array, ref: Float32Array, count: number): number {
  let worst = 0;
  let norm = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i] as number;
    const g = (gpu[i] as number) / count;
    if (!Number.isFinite(g)) return Number.POSITIVE_INFINITY;
    worst = Math.max(worst, Math.abs(g - r));
    norm = Math.max(norm, Math.abs(r));
  }
  return norm === 0 ? worst : worst / norm;
}
