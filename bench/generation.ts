// Generation on the built-in stories260K with a KV cache: decode tokens/s of the dense model and of
// its 2:4 and 50 %-unstructured magnitude prunes, each pruned model with its block matrices stored
// densely (the tiled matmul) and kept compressed (LoadOptions.compress: the sparse kernels), all in
// one run, with the bytes each model's weights take and the ratio of its decode rate to the dense
// model's. Greedy, so a compressed model must produce the same tokens as the same prune stored
// densely; the row says when it does not.

import type { WorkCounters } from '../src/gpu/meter';
import type { GpuRuntime } from '../src/gpu/runtime';
import { generate } from '../src/model/generate';
import { GpuModel, type LoadOptions } from '../src/model/gpuModel';
import {
  blockOperators,
  canonicalTensors,
  memoryWeightSource,
  type WeightSource,
} from '../src/model/weights';
import { openStories260K } from './stories';
import { alignedRows, num } from './table';

export interface GenerationRow {
  model: string;
  storage: 'dense' | 'N:M compressed' | 'bitmask compressed';
  weightBytes: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Decode rate over the dense model's in the same run (above 1 is faster). */
  ratio: number;
  decodeCounters: WorkCounters;
  /** Greedy tokens equal to the same weights stored densely (always true for the dense rows). */
  sameTokens: boolean;
}

/** Every block matrix with the `prune(size)` smallest |w| of each group of `group(cols)` along a row zeroed. */
async function magnitudePrune(
  source: WeightSource,
  group: (cols: number) => number,
  prune: (size: number) => number,
): Promise<WeightSource> {
  const c = source.config;
  const tensors = new Map<string, Float32Array>();
  for (const t of canonicalTensors(c)) tensors.set(t.name, await source.read(t.name));
  for (let l = 0; l < c.layers; l++)
    for (const op of blockOperators(c)) {
      const name = `layers.${l}.${op}.weight`;
      const w = tensors.get(name) as Float32Array;
      const cols = canonicalTensors(c).find((t) => t.name === name)?.shape[1] as number;
      const size = group(cols);
      for (let start = 0; start < w.length; start += size) {
        const order = Array.from({ length: size }, (_, i) => start + i).sort(
          (a, b) => Math.abs(w[a] as number) - Math.abs(w[b] as number),
        );
        for (const i of order.slice(0, prune(size))) w[i] = 0;
      }
    }
  return memoryWeightSource(c, tensors, `${source.description} (magnitude-pruned)`);
}

export async function benchGeneration(rt: GpuRuntime, quick: boolean): Promise<GenerationRow[]> {
  const { opened, tokenizer, tokens } = await openStories260K();
  const prompt = tokens.slice(0, 8);
  const newTokens = quick ? 24 : 96;
  process.stderr.write(
    `  generation · stories260K, ${prompt.length}-token prompt, ${newTokens} new tokens … `,
  );

  const pruned24 = await magnitudePrune(
    opened.weights,
    () => 4,
    () => 2,
  );
  const pruned50 = await magnitudePrune(
    opened.weights,
    (cols) => cols,
    (size) => Math.floor(size / 2),
  );
  const runs: { model: string; source: WeightSource; compress?: LoadOptions['compress'] }[] = [
    { model: 'dense', source: opened.weights },
    { model: '2:4 (magnitude)', source: pruned24 },
    { model: '2:4 (magnitude)', source: pruned24, compress: { format: 'nm', n: 2, m: 4 } },
    { model: '50% (magnitude)', source: pruned50 },
    { model: '50% (magnitude)', source: pruned50, compress: { format: 'bitmask' } },
  ];
  const rows: GenerationRow[] = [];
  let denseTokens: number[] = [];
  let denseRate = Number.NaN;
  for (const r of runs) {
    const before = rt.ledger.bytesIn('weights');
    const model = await GpuModel.load(rt, r.source, { compress: r.compress });
    const weightBytes = rt.ledger.bytesIn('weights') - before;
    try {
      // A first run compiles the pipelines; the second is timed.
      const options = { maxNewTokens: newTokens, stopIds: [] as number[] };
      await generate(model, tokenizer, prompt, { ...options, maxNewTokens: 2 });
      const result = await generate(model, tokenizer, prompt, options);
      if (!r.compress) denseTokens = result.tokens;
      if (r.model === 'dense') denseRate = result.decode.tokensPerSecond;
      rows.push({
        model: r.model,
        storage: !r.compress ? 'dense' : r.compress.format === 'nm' ? 'N:M compressed' : 'bitmask compressed',
        weightBytes,
        prefillTokensPerSecond: result.prefill.tokensPerSecond,
        decodeTokensPerSecond: result.decode.tokensPerSecond,
        ratio: result.decode.tokensPerSecond / denseRate,
        decodeCounters: result.decode.counters,
        sameTokens:
          result.tokens.length === denseTokens.length && result.tokens.every((t, i) => t === denseTokens[i]),
      });
    } finally {
      model.destroy();
    }
  }
  process.stderr.write('done\n');
  return rows;
}

export function formatGeneration(rows: GenerationRow[]): string {
  const head = [
    'model',
    'weights stored',
    'weight MiB',
    'prompt tok/s',
    'decode tok/s',
    '× dense',
    'dispatches / token',
    'read-backs / token',
    'same tokens',
  ];
  const body = rows.map((r) => {
    const steps = Math.max(1, r.decodeCounters.readbacks);
    return [
      r.model,
      r.storage,
      num(r.weightBytes / 2 ** 20, 3),
      num(r.prefillTokensPerSecond, 1),
      num(r.decodeTokensPerSecond, 2),
      num(r.ratio, 2),
      num(r.decodeCounters.dispatches / steps, 0),
      num(r.decodeCounters.readbacks / steps, 2),
      r.sameTokens ? 'yes' : 'NO',
    ];
  });
  const table = alignedRows(head, body, (i) => i < 2).join('\n');
  return `Generation (KV cache, greedy) — decode rate against the dense model in the same run\n${table}`;
}
