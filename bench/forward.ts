// Forward-pass throughput: tokens per second of a whole model scoring one window (embeddings,
// every block, head and cross-entropy), for the built-in stories260K and for a randomly initialised
// model with OPT-125M's shapes, in f32 and stored as F16 (its matrices packed 16-bit on the GPU, see
// src/model/weightStorage.ts). The GPU's own timestamps split the time by kernel, which gives the
// share spent in matmul against everything else.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatBytes } from '../src/gpu/errors';
import { countersSince, type GpuCounters, type GpuRuntime } from '../src/gpu/runtime';
import { decodeHalves, encodeHalves } from '../src/kernels/halfFloat';
import { bytesSource } from '../src/model/byteSource';
import { openModel } from '../src/model/checkpoint';
import type { ModelConfig } from '../src/model/config';
import { GpuModel } from '../src/model/gpuModel';
import { canonicalTensors, type WeightSource } from '../src/model/weights';
import { type BenchCounters, COUNTER_HEADS, counterCells, medianCounts, profiledMs } from './counters';
import { repoRoot } from './environment';
import { randomWeights, realConfig } from './realModels';

export interface ForwardRow {
  model: string;
  tokens: number;
  runs: number;
  medianMs: number;
  tokensPerSecond: number;
  /** Bytes of weights on the GPU (the ledger's 'weights' category after the load). */
  weightBytes: number;
  /** 2 · weights used per token (linear layers and head) + attention's 4·T·d per layer, per window. */
  flops: number;
  gflops: number;
  /** GPU time by kernel, from timestamp queries (null without timestamp-query). */
  gpuMsByKernel: Record<string, number> | null;
  /** matmul's share of the GPU time. */
  matmulShare: number | null;
  /** GPU work of one window (GPU ms: the profiled window's, all kernels). */
  counters: BenchCounters;
}

/** The same model as a F16 checkpoint would hold it: every tensor rounded to F16. */
async function asF16(source: WeightSource): Promise<WeightSource> {
  const halves = new Map<string, Uint16Array>();
  for (const t of canonicalTensors(source.config))
    halves.set(t.name, encodeHalves('F16', await source.read(t.name), t.name));
  const stored = (name: string) => {
    const bits = halves.get(name);
    if (!bits) throw new RangeError(`no tensor ${name}`);
    return bits;
  };
  return {
    config: source.config,
    description: `${source.description}, F16`,
    read: async (name) => decodeHalves('F16', stored(name)),
    dtype: () => 'F16',
    readHalf: async (name) => stored(name),
  };
}

async function stories260k(): Promise<WeightSource> {
  const dir = path.join(repoRoot, 'public', 'models', 'stories260K');
  const files = ['config.json', 'model.safetensors'].map((n) =>
    bytesSource(n, readFileSync(path.join(dir, n))),
  );
  return (await openModel(files)).weights;
}

function forwardFlops(c: ModelConfig, tokens: number): number {
  const linear = canonicalTensors(c)
    .filter((t) => t.shape.length === 2 && t.name.startsWith('layers.'))
    .reduce((s, t) => s + (t.shape[0] as number) * (t.shape[1] as number), 0);
  const head = c.vocabSize * c.hidden;
  const attention = c.layers * 4 * tokens * c.heads * c.headDim;
  return 2 * tokens * (linear + head) + tokens * attention;
}

export async function benchForward(rt: GpuRuntime, quick: boolean, runs: number): Promise<ForwardRow[]> {
  const plans: [string, () => Promise<WeightSource>, number][] = [
    ['stories260K', stories260k, quick ? 128 : 512],
    [
      'OPT-125M shapes (random weights)',
      async () => randomWeights(realConfig('OPT-125M'), 'random OPT-125M'),
      quick ? 32 : 128,
    ],
    [
      'OPT-125M shapes (random weights), F16',
      () => asF16(randomWeights(realConfig('OPT-125M'), 'random OPT-125M')),
      quick ? 32 : 128,
    ],
  ];
  const rows: ForwardRow[] = [];
  for (const [name, load, tokens] of plans) {
    process.stderr.write(`  forward · ${name}, ${tokens} tokens (${runs} runs) … `);
    const source = await load();
    const weightsBefore = rt.ledger.bytesIn('weights');
    const model = await GpuModel.load(rt, source);
    const weightBytes = rt.ledger.bytesIn('weights') - weightsBefore;
    try {
      const ids = Array.from({ length: tokens }, (_, i) => (i * 7919) % model.config.vocabSize);
      await model.scoreWindow(ids);
      const times: number[] = [];
      const counts: GpuCounters[] = [];
      for (let r = 0; r < runs; r++) {
        const before = rt.counters();
        const start = performance.now();
        await model.scoreWindow(ids);
        times.push(performance.now() - start);
        counts.push(countersSince(rt.counters(), before));
      }
      times.sort((a, b) => a - b);
      const medianMs = times[Math.floor(times.length / 2)] as number;
      let gpuMsByKernel: Record<string, number> | null = null;
      let matmulShare: number | null = null;
      let totals: Map<string, number> | null = null;
      if (rt.startProfile()) {
        await model.scoreWindow(ids);
        totals = await rt.stopProfile();
        gpuMsByKernel = Object.fromEntries([...totals].map(([k, ns]) => [k, ns / 1e6]));
        const all = [...totals.values()].reduce((a, b) => a + b, 0);
        // Both matmul kernels ('matmul', 'matmul direct') count: the adapter chooses which runs.
        const matmulNs = [...totals].filter(([k]) => isMatmul(k)).reduce((sum, [, ns]) => sum + ns, 0);
        matmulShare = all > 0 ? matmulNs / all : null;
      }
      const flops = forwardFlops(model.config, tokens);
      rows.push({
        model: name,
        tokens,
        runs,
        medianMs,
        tokensPerSecond: tokens / (medianMs / 1000),
        weightBytes,
        flops,
        gflops: flops / (medianMs * 1e6),
        gpuMsByKernel,
        matmulShare,
        counters: medianCounts(counts, profiledMs(totals)),
      });
      process.stderr.write(`${medianMs.toFixed(0)} ms\n`);
    } finally {
      model.destroy();
    }
  }
  return rows;
}

export function formatForward(rows: readonly ForwardRow[]): string {
  const header = [
    'model',
    'tokens',
    'median ms',
    'tokens/s',
    'weights',
    'GFLOP/s',
    'matmul share',
    ...COUNTER_HEADS,
    'largest other kernels (GPU ms)',
  ];
  const lines = rows.map((r) => {
    const others = Object.entries(r.gpuMsByKernel ?? {})
      .filter(([k]) => !isMatmul(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, ms]) => `${k} ${ms.toFixed(1)}`)
      .join(', ');
    return [
      r.model,
      String(r.tokens),
      r.medianMs.toFixed(1),
      r.tokensPerSecond.toFixed(1),
      formatBytes(r.weightBytes),
      r.gflops.toFixed(3),
      r.matmulShare === null ? 'n/a' : `${(100 * r.matmulShare).toFixed(1)}%`,
      ...counterCells(r.counters),
      others,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [
    'Forward pass (one window scored: embeddings, blocks, head, cross-entropy)',
    row(header),
    row(widths.map((w) => '-'.repeat(w))),
    ...lines.map(row),
  ].join('\n');
}

/** Whether a profiled kernel label is one of the matmul kernels (matmulKernel.ts). */
function isMatmul(label: string): boolean {
  return label === 'matmul' || label.startsWith('matmul ');
}
