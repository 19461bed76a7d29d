// The device benchmark's report (scripts/device-bench.sh run): our matmul and Gram rows set beside
// the same products timed in PyTorch (bench/torch_matmul.py), as fractions of its float32 (TF32 off)
// and bfloat16 speeds, and the stages of the run with how each ended. Pure functions; reading the
// files is deviceReportMain.ts.

import type { BenchRow, ProductDims } from './row';
import { num, pct } from './table';

/** One row of torch_matmul.py's JSON: a product, a dtype, and its timing or why there is none. */
export interface TorchRow extends ProductDims {
  group: string;
  name: string;
  kind: string;
  dtype: string;
  medianMs?: number;
  gflops?: number;
  error?: string;
}

export interface Speed {
  medianMs: number;
  gflops: number;
}

export interface Comparison {
  group: string;
  name: string;
  kind: BenchRow['kind'];
  layout: string;
  shape: string;
  /** Delivered FLOPs (2·m·n·k), counted the same way for both sides. */
  flops: number;
  ours: Speed;
  float32: Speed | null;
  bfloat16: Speed | null;
  /** Our GFLOP/s ÷ PyTorch's; null where PyTorch has no timing for the product. */
  fracOfFloat32: number | null;
  fracOfBfloat16: number | null;
  /**
   * Ours on the GPU clock (timestamp queries), null without them: the same basis as PyTorch's
   * CUDA-event times, which the wall-time fractions above are not (they include our host's
   * recording and the completion round trip).
   */
  oursGpu: Speed | null;
  gpuFracOfFloat32: number | null;
  gpuFracOfBfloat16: number | null;
  /** Why PyTorch has no timing, per dtype. */
  torchErrors: string[];
}

const TORCH_DTYPES = ['float32', 'bfloat16'] as const;

function sameProduct(a: ProductDims, b: ProductDims): boolean {
  return a.m === b.m && a.n === b.n && a.k === b.k && a.transA === b.transA && a.transB === b.transB;
}

/** Our successful products, each with PyTorch's timing of the same product and the fractions. */
export function compareToTorch(ours: readonly BenchRow[], torch: readonly TorchRow[]): Comparison[] {
  const out: Comparison[] = [];
  for (const row of ours) {
    const dims = row.product;
    if (row.kind === 'copy' || !dims || row.error) continue;
    const speeds: Record<(typeof TORCH_DTYPES)[number], Speed | null> = { float32: null, bfloat16: null };
    const torchErrors: string[] = [];
    for (const dtype of TORCH_DTYPES) {
      const t = torch.find((r) => r.dtype === dtype && r.kind === row.kind && sameProduct(r, dims));
      if (!t) torchErrors.push(`${dtype}: not timed`);
      else if (t.error || !((t.gflops ?? 0) > 0)) torchErrors.push(`${dtype}: ${t.error ?? 'no timing'}`);
      else speeds[dtype] = { medianMs: t.medianMs as number, gflops: t.gflops as number };
    }
    const gpu = row.gpuMs && row.gpuGflops ? { medianMs: row.gpuMs, gflops: row.gpuGflops } : null;
    out.push({
      group: row.group,
      name: row.name,
      kind: row.kind,
      layout: row.layout,
      shape: row.shape,
      flops: row.flops,
      ours: { medianMs: row.medianMs, gflops: row.gflops },
      float32: speeds.float32,
      bfloat16: speeds.bfloat16,
      fracOfFloat32: speeds.float32 ? row.gflops / speeds.float32.gflops : null,
      fracOfBfloat16: speeds.bfloat16 ? row.gflops / speeds.bfloat16.gflops : null,
      oursGpu: gpu,
      gpuFracOfFloat32: gpu && speeds.float32 ? gpu.gflops / speeds.float32.gflops : null,
      gpuFracOfBfloat16: gpu && speeds.bfloat16 ? gpu.gflops / speeds.bfloat16.gflops : null,
      torchErrors,
    });
  }
  return out;
}

export interface FractionSummary {
  /** Products with a fraction. */
  count: number;
  median: number | null;
  /** The product where we come closest to PyTorch, and where we fall furthest behind. */
  best: { case: string; frac: number } | null;
  worst: { case: string; frac: number } | null;
}

/** Where a comparison keeps its fraction of PyTorch's speed, by basis and dtype. */
const FRACTION_FIELDS = {
  wall: { float32: 'fracOfFloat32', bfloat16: 'fracOfBfloat16' },
  gpu: { float32: 'gpuFracOfFloat32', bfloat16: 'gpuFracOfBfloat16' },
} as const;

/** The fractions of PyTorch's speed for one dtype, by our wall time or (gpu) by our GPU time. */
export function summarize(
  rows: readonly Comparison[],
  dtype: 'float32' | 'bfloat16',
  basis: 'wall' | 'gpu' = 'wall',
): FractionSummary {
  const field = FRACTION_FIELDS[basis][dtype];
  const fracs = rows
    .map((r) => ({ case: `${r.group} · ${r.name}`, frac: r[field] }))
    .filter((r): r is { case: string; frac: number } => r.frac !== null && Number.isFinite(r.frac));
  if (fracs.length === 0) return { count: 0, median: null, best: null, worst: null };
  const sorted = [...fracs].sort((a, b) => a.frac - b.frac);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as { frac: number }).frac
      : ((sorted[mid - 1] as { frac: number }).frac + (sorted[mid] as { frac: number }).frac) / 2;
  return { count: fracs.length, median, best: sorted.at(-1) ?? null, worst: sorted[0] ?? null };
}

export interface Stage {
  name: string;
  /** The exit status, or why the stage did not run ("skipped…"). */
  status: number | string;
  seconds: number;
  /** The stage's timeout in seconds (0: none). */
  limitSeconds: number;
  /** Killed by its timeout (exit status 124, or 137 after the follow-up KILL). */
  timedOut: boolean;
}

/** The run's stages.tsv: "name<TAB>status<TAB>seconds<TAB>limit" per line. */
export function parseStages(tsv: string): Stage[] {
  return tsv
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [name = '', status = '', seconds = '', limit = ''] = line.split('\t');
      const code = /^\d+$/.test(status) ? Number(status) : status;
      return {
        name,
        status: code,
        seconds: Number(seconds),
        limitSeconds: Number(limit),
        timedOut: code === 124 || code === 137,
      };
    });
}

/** The table the run prints: ours against PyTorch, product by product. */
export function formatComparison(rows: readonly Comparison[], torchDevice: string): string {
  const head = [
    'case',
    'm×n×k',
    'layout',
    'ours ms',
    'ours GFLOP/s',
    `torch fp32 GFLOP/s`,
    'ours/fp32',
    'torch bf16 GFLOP/s',
    'ours/bf16',
    'ours GPU GFLOP/s',
    'GPU/fp32',
    'GPU/bf16',
  ];
  const body = rows.map((r) => [
    `${r.group} · ${r.name}`,
    r.shape,
    r.layout,
    num(r.ours.medianMs, 4),
    num(r.ours.gflops),
    num(r.float32?.gflops),
    pct(r.fracOfFloat32),
    num(r.bfloat16?.gflops),
    pct(r.fracOfBfloat16),
    num(r.oursGpu?.gflops),
    pct(r.gpuFracOfFloat32),
    pct(r.gpuFracOfBfloat16),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] as string).length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [`Ours against PyTorch on ${torchDevice}:`, line(head), ...body.map(line)].join('\n');
}
