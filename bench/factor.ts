// SparseGPT's factor of the inverse Hessian on the GPU (src/prune/hessianFactor.ts): the damped
// Cholesky and triangular inverse of one operator group's Hessian, timed at the input widths of real
// models (OPT-125M's 768 and 3072; LLaMA-7B's 4096 and 11008 behind --sparsegpt-wide, half an hour
// to hours on a CPU adapter), with its read-backs, and the float64 JavaScript factorization the engine used to
// run (cholesky.reference.ts, now the tests' reference) timed in the same run at the widths up to 768.

import type { TrackedBuffer } from '../src/gpu/ledger';
import { countersSince, type GpuRuntime } from '../src/gpu/runtime';
import { accumulateGram } from '../src/kernels/gram';
import { Random } from '../src/kernels/random';
import { upperFactorOfInverse } from '../src/prune/cholesky.reference';
import { factorHessian } from '../src/prune/hessianFactor';
import { PAPER_SPARSEGPT } from '../src/prune/options';
import { alignedRows, num, type Peaks, pct } from './table';

export interface FactorRow {
  /** The Hessian is cols × cols (the operator group's input width). */
  cols: number;
  /** Calibration tokens behind it (min(4·cols, 2048): fewer than inputs above 2048, as in real runs). */
  tokens: number;
  runs: number;
  timesMs: number[];
  medianMs: number;
  /** cols³/3 for the Cholesky + cols³/3 for the triangular inverse (what the work needs; the kernels do up to twice that). */
  flops: number;
  gflops: number;
  fracPeakMatmul: number | null;
  /** Per factorization (one damping attempt). */
  readbacks: number;
  bytesRead: number;
  dispatches: number;
  submissions: number;
  damping: number;
  /** GPU time of the warm-up factorization by kernel (timestamp queries); null without them. */
  gpuMsByKernel: Record<string, number> | null;
  /** The float64 JS factorization (upperFactorOfInverse) of the same damped Hessian; null above 768. */
  jsMs: number | null;
  error?: string;
}

const JS_MAX_COLS = 768;

function widths(quick: boolean, wide: boolean): number[] {
  const list = quick ? [128, 384] : [768, 3072];
  if (wide) list.push(4096, 11008);
  return list;
}

/** A Gram of random inputs with a mean and a scale per feature (as bench/prune.ts builds it). */
async function hessianOf(rt: GpuRuntime, cols: number, tokens: number, seed: number): Promise<TrackedBuffer> {
  const random = new Random(seed);
  const mean = random.uniform(cols, -0.5, 0.5);
  const scale = random.uniform(cols, -0.7, 0.7).map(Math.exp);
  const data = random.uniform(tokens * cols);
  for (let i = 0; i < data.length; i++) {
    const j = i % cols;
    data[i] = ((data[i] as number) + (mean[j] as number)) * (scale[j] as number);
  }
  const x = await rt.upload('bench X', 'scratch', data);
  try {
    const gram = await rt.createBuffer('bench H', 'scratch', 4 * cols * cols);
    await accumulateGram(rt, { x: x.buffer, rows: tokens, width: cols, g: gram.buffer });
    return gram;
  } finally {
    x.destroy();
  }
}

async function benchWidth(rt: GpuRuntime, cols: number, runs: number, seed: number): Promise<FactorRow> {
  const tokens = Math.min(4 * cols, 2048);
  const h = await hessianOf(rt, cols, tokens, seed);
  try {
    const percdamp = PAPER_SPARSEGPT.percdamp;
    const once = async () => {
      const factor = await factorHessian(rt, { hessian: h.buffer, cols, percdamp });
      const damping = factor.damping;
      factor.destroy();
      return damping;
    };
    // The warm-up run compiles the pipelines and is profiled by kernel.
    const profiling = rt.startProfile();
    await once();
    const totals = profiling ? await rt.stopProfile() : null;
    const timesMs: number[] = [];
    let damping = percdamp;
    const before = rt.counters();
    for (let r = 0; r < runs; r++) {
      await rt.sync();
      const t = performance.now();
      damping = await once();
      timesMs.push(performance.now() - t);
    }
    const counts = countersSince(rt.counters(), before);
    const medianMs = [...timesMs].sort((a, b) => a - b)[Math.floor(timesMs.length / 2)] as number;
    const flops = (2 * cols ** 3) / 3;

    let jsMs: number | null = null;
    if (cols <= JS_MAX_COLS) {
      // The same damped Hessian the GPU factored, as the old CPU path built it.
      const hd = Float64Array.from(await rt.readF32(h.buffer));
      let mean = 0;
      for (let i = 0; i < cols; i++) mean += (hd[i * cols + i] as number) / cols;
      for (let i = 0; i < cols; i++) hd[i * cols + i] = (hd[i * cols + i] as number) + damping * mean;
      const t = performance.now();
      upperFactorOfInverse(hd, cols);
      jsMs = performance.now() - t;
    }
    return {
      cols,
      tokens,
      runs,
      timesMs,
      medianMs,
      flops,
      gflops: flops / (medianMs * 1e6),
      fracPeakMatmul: null,
      readbacks: counts.readbacks / runs,
      bytesRead: counts.bytesRead / runs,
      dispatches: counts.dispatches / runs,
      submissions: counts.submissions / runs,
      damping,
      gpuMsByKernel: totals ? Object.fromEntries([...totals].map(([k, ns]) => [k, ns / 1e6])) : null,
      jsMs,
    };
  } finally {
    h.destroy();
  }
}

/** The SparseGPT factor rows of the pruning section; `wide` adds LLaMA-7B's 4096 and 11008. */
export async function benchFactor(
  rt: GpuRuntime,
  quick: boolean,
  runs: number | null,
  wide: boolean,
): Promise<FactorRow[]> {
  const rows: FactorRow[] = [];
  let seed = 4096;
  for (const cols of widths(quick, wide)) {
    const n = runs ?? (cols <= 1024 ? 3 : 1);
    process.stderr.write(`  pruning · SparseGPT factor ${cols}×${cols} (${n} runs) … `);
    const t = performance.now();
    try {
      const row = await benchWidth(rt, cols, n, seed++);
      rows.push(row);
      process.stderr.write(
        `${num(row.medianMs, 4)} ms, ${num(row.gflops)} GFLOP/s (case took ${num((performance.now() - t) / 1000)} s)\n`,
      );
    } catch (error) {
      process.stderr.write('FAILED\n');
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      console.error(message);
      rows.push(failedRow(cols, n, message));
      if (rt.isLost) break;
    }
  }
  return rows;
}

function failedRow(cols: number, runs: number, error: string): FactorRow {
  return {
    cols,
    tokens: Math.min(4 * cols, 2048),
    runs,
    timesMs: [],
    medianMs: Number.NaN,
    flops: (2 * cols ** 3) / 3,
    gflops: Number.NaN,
    fracPeakMatmul: null,
    readbacks: Number.NaN,
    bytesRead: Number.NaN,
    dispatches: Number.NaN,
    submissions: Number.NaN,
    damping: Number.NaN,
    gpuMsByKernel: null,
    jsMs: null,
    error,
  };
}

export function relateFactorToPeak(rows: FactorRow[], peaks: Peaks): void {
  for (const r of rows) if (!r.error) r.fracPeakMatmul = r.gflops / peaks.matmulGflops;
}

export function formatFactor(rows: readonly FactorRow[], peaks: Peaks): string {
  const header = [
    'width',
    'tokens',
    'median ms',
    'GFLOP/s',
    '%mm',
    'read-backs',
    'dispatches',
    'submits',
    'matmul share',
    'f64 JS ms',
    'GPU ÷ JS time',
  ];
  const lines = rows.map((r) => {
    if (r.error) return [String(r.cols), String(r.tokens), `FAILED: ${r.error.split('\n')[0]}`];
    const all = Object.values(r.gpuMsByKernel ?? {}).reduce((a, b) => a + b, 0);
    const mm = r.gpuMsByKernel?.matmul ?? 0;
    return [
      String(r.cols),
      String(r.tokens),
      num(r.medianMs, 4),
      num(r.gflops),
      pct(r.fracPeakMatmul),
      num(r.readbacks),
      num(r.dispatches),
      num(r.submissions),
      r.gpuMsByKernel && all > 0 ? pct(mm / all) : 'n/a',
      r.jsMs === null ? '–' : num(r.jsMs, 4),
      r.jsMs === null ? '–' : num(r.medianMs / r.jsMs),
    ];
  });
  return [
    `SparseGPT factor on the GPU (damped Hessian → U with H⁻¹ = UᵀU, f32; percdamp ${PAPER_SPARSEGPT.percdamp})`,
    ...alignedRows(header, lines, () => false),
    '',
    '* median ms: factorHessian end to end (copy, checks, damping, Cholesky, inverse, the status read-back), ' +
      'wall time between rt.sync()s, median of the timed runs after a profiled warm-up run.',
    `* GFLOP/s counts n³/3 (Cholesky) + n³/3 (triangular inverse); the kernels execute up to twice that ` +
      `(full tiles where only a triangle is needed). %mm is of the run's best plain matmul (${num(peaks.matmulGflops)} GFLOP/s).`,
    '* read-backs, dispatches, submits: per factorization. matmul share: GPU time of the warm-up run in the ' +
      'matmul kernel (trailing updates and inverse products); the rest is the diagonal blocks, panels and passes.',
    `* f64 JS ms: upperFactorOfInverse (the former CPU path) on the same damped Hessian, single-threaded, ` +
      `widths up to ${JS_MAX_COLS}; GPU ÷ JS time < 1 means the GPU path is faster on this adapter.`,
  ].join('\n');
}
