// Perplexity evaluation of the built-in stories260K on TinyStories, as `eval` runs it: the GPU path
// with its default windows per pass, the same with one window per pass, and the float64 JavaScript
// reference forward (`eval --reference`) on the same windows, all in one run so that the ratios
// compare like with like on a shared, noisy machine. The three perplexities must agree (f32 against
// f64: 1e-4 relative), or the row says so.

import type { WorkCounters } from '../src/gpu/meter';
import type { GpuRuntime } from '../src/gpu/runtime';
import { DEFAULT_PASS_BYTES, windowsPerPass } from '../src/model/batch';
import { evaluatePerplexity } from '../src/model/evaluate';
import { GpuModel } from '../src/model/gpuModel';
import { perplexity } from '../src/model/perplexity';
import { referenceNll } from '../src/model/reference';
import { canonicalTensors } from '../src/model/weights';
import { openStories260K } from './stories';
import { alignedRows, num } from './table';

export interface EvaluationRow {
  model: string;
  text: string;
  windows: number;
  seqLen: number;
  windowsPerPass: number;
  /** Tokens per second of each engine over the same windows. */
  gpu: number;
  gpuOnePerPass: number;
  js: number;
  ppl: { gpu: number; gpuOnePerPass: number; js: number };
  /** GPU work of the batched evaluation. */
  counters: WorkCounters | undefined;
  countersOnePerPass: WorkCounters | undefined;
}

export async function benchEvaluation(rt: GpuRuntime, quick: boolean): Promise<EvaluationRow> {
  const { opened, tokens } = await openStories260K();
  const [windows, seqLen] = quick ? [4, 128] : [16, 256];
  const options = { seqLen, maxWindows: windows };
  process.stderr.write(`  evaluation · stories260K, ${windows} windows of ${seqLen} … `);

  const tensors = new Map<string, Float32Array>();
  for (const t of canonicalTensors(opened.config)) tensors.set(t.name, await opened.weights.read(t.name));
  const jsStart = performance.now();
  const js = await perplexity(
    tokens,
    async (ws) =>
      ws.map((w) => {
        const nll = referenceNll(opened.config, tensors, w);
        return { nllSum: nll.sum, count: nll.count };
      }),
    options,
  );
  const jsMs = performance.now() - jsStart;

  const model = await GpuModel.load(rt, opened.weights);
  try {
    // Compiles the pipelines, so neither timed run pays for them.
    await evaluatePerplexity(model, tokens, { seqLen, maxWindows: 1 });
    // What evaluatePerplexity picks by default, said explicitly for the table.
    const perPass = windowsPerPass(opened.config, seqLen, windows, rt.limits, DEFAULT_PASS_BYTES);
    let start = performance.now();
    const batched = await evaluatePerplexity(model, tokens, { ...options, windowsPerPass: perPass });
    const batchedMs = performance.now() - start;
    start = performance.now();
    const one = await evaluatePerplexity(model, tokens, { ...options, windowsPerPass: 1 });
    const oneMs = performance.now() - start;
    const scored = windows * seqLen;
    const row: EvaluationRow = {
      model: 'stories260K',
      text: 'tinystories',
      windows,
      seqLen,
      windowsPerPass: perPass,
      gpu: scored / (batchedMs / 1000),
      gpuOnePerPass: scored / (oneMs / 1000),
      js: scored / (jsMs / 1000),
      ppl: { gpu: batched.ppl, gpuOnePerPass: one.ppl, js: js.ppl },
      counters: batched.counters,
      countersOnePerPass: one.counters,
    };
    process.stderr.write(`${num(row.gpu)} tok/s (JS ${num(row.js)})\n`);
    return row;
  } finally {
    model.destroy();
  }
}

export function formatEvaluation(r: EvaluationRow): string {
  const agree = Math.abs(r.ppl.gpu - r.ppl.js) / r.ppl.js <= 1e-4 && r.ppl.gpu === r.ppl.gpuOnePerPass;
  const header = [
    'engine',
    'windows per pass',
    'tokens/s',
    '× float64 JS',
    'perplexity',
    'read-backs',
    'dispatches',
  ];
  const lines = [
    [
      'WebGPU, batched',
      String(r.windowsPerPass),
      num(r.gpu),
      num(r.gpu / r.js),
      r.ppl.gpu.toFixed(4),
      String(r.counters?.readbacks ?? '–'),
      String(r.counters?.dispatches ?? '–'),
    ],
    [
      'WebGPU, one window per pass',
      '1',
      num(r.gpuOnePerPass),
      num(r.gpuOnePerPass / r.js),
      r.ppl.gpuOnePerPass.toFixed(4),
      String(r.countersOnePerPass?.readbacks ?? '–'),
      String(r.countersOnePerPass?.dispatches ?? '–'),
    ],
    ['float64 JS reference', '1', num(r.js), '1', r.ppl.js.toFixed(4), '–', '–'],
  ];
  return [
    `Evaluation (${r.model} on ${r.text}, ${r.windows} windows of ${r.seqLen} tokens; batched ÷ one per pass = ${num(r.gpu / r.gpuOnePerPass)}×)`,
    ...alignedRows(header, lines, (i) => i === 0),
    agree
      ? 'Perplexities agree (GPU within 1e-4 of float64; batched and one per pass bit for bit).'
      : 'WARNING: the perplexities disagree beyond 1e-4 or between pass sizes.',
  ].join('\n');
}
