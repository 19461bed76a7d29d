// Forward-pass throughput: tokens per second of a whole model scoring one window (embeddings,
// every block, head and cross-entropy), for the built-in stories260K and for a randomly initialised
// model with OPT-125M's shapes. The GPU's own timestamps split the time by kernel, which gives the
// share spent in matmul against everything else.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { countersSince, type GpuCounters, type GpuRuntime } from '../src/gpu/runtime';
import { Random } from '../src/kernels/random';
import { bytesSource } from '../src/model/byteSource';
import { openModel } from '../src/model/checkpoint';
import type { ModelConfig } from '../src/model/config';
import { GpuModel } from '../src/model/gpuModel';
import { canonicalTensors, memoryWeightSource, type WeightSource } from '../src/model/weights';
import { type BenchCounters, COUNTER_HEADS, counterCells, medianCounts, profiledMs } from './counters';
import { repoRoot } from './environment';

export interface ForwardRow {
  model: string;
  tokens: number;
  runs: number;
  medianMs: number;
  tokensPerSecond: number;
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

/** OPT-125M (facebook/opt-125m config.json). */
const OPT_125M: ModelConfig = {
  family: 'opt',
  vocabSize: 50272,
  hidden: 768,
  layers: 12,
  heads: 12,
  kvHeads: 12,
  headDim: 64,
  ffnHidden: 3072,
  maxPositions: 2048,
  norm: 'layernorm',
  normEps: 1e-5,
  activation: 'relu',
  bias: true,
  positions: 'learned',
  positionOffset: 2,
  ropeTheta: 0,
  ropeStyle: 'half',
  tiedEmbeddings: true,
  bosId: 2,
  eosId: 2,
};

function randomWeights(config: ModelConfig): WeightSource {
  const random = new Random(125);
  const tensors = new Map<string, Float32Array>();
  for (const t of canonicalTensors(config)) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const fanIn = t.shape.length === 2 ? (t.shape[1] as number) : 1;
    const gain = /norm\.weight$/.test(t.name);
    tensors.set(
      t.name,
      random.uniform(size).map((v) => (gain ? 1 + 0.1 * v : v / Math.sqrt(fanIn))),
    );
  }
  return memoryWeightSource(config, tensors, 'random OPT-125M');
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
    ['OPT-125M shapes (random weights)', async () => randomWeights(OPT_125M), quick ? 32 : 128],
  ];
  const rows: ForwardRow[] = [];
  for (const [name, load, tokens] of plans) {
    process.stderr.write(`  forward · ${name}, ${tokens} tokens (${runs} runs) … `);
    const model = await GpuModel.load(rt, await load());
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
        matmulShare = all > 0 ? (totals.get('matmul') ?? 0) / all : null;
      }
      const flops = forwardFlops(model.config, tokens);
      rows.push({
        model: name,
        tokens,
        runs,
        medianMs,
        tokensPerSecond: tokens / (medianMs / 1000),
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
    'GFLOP/s',
    'matmul share',
    ...COUNTER_HEADS,
    'largest other kernels (GPU ms)',
  ];
  const lines = rows.map((r) => {
    const others = Object.entries(r.gpuMsByKernel ?? {})
      .filter(([k]) => k !== 'matmul')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, ms]) => `${k} ${ms.toFixed(1)}`)
      .join(', ');
    return [
      r.model,
      String(r.tokens),
      r.medianMs.toFixed(1),
      r.tokensPerSecond.toFixed(1),
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
