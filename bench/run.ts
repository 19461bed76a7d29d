// One benchmark run, shared by `npm run bench` (bench.ts) and the CLI's `bench` command: it
// measures, on the adapter of this run, a large buffer copy and the matmul/Gram kernels at the
// sizes the pruners use, with a single-threaded JS loop as a yardstick, a forward pass and
// FISTAPruner on single operators (forward.ts, prune.ts), a training step per optimizer
// (train.ts), then prints tables and writes a JSON report. Tables go to `print` (stdout for
// `npm run bench`, stderr when the CLI's --json keeps stdout for the report); per-case progress
// goes to stderr. On CPU adapters (SwiftShader) the absolute numbers say nothing about GPUs.

import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createNodeRuntime } from '../src/host/nodeGpu';
import { type BenchOptions, MEASURED_BLOCK_MODELS } from './args';
import {
  blockRuns,
  formatMeasuredBlocks,
  formatPlan,
  type MeasuredBlockRow,
  measuredBlockRows,
  type PlanRow,
  planRows,
} from './blocks';
import { suite } from './cases';
import { benchDevices, type DevicesRow, formatDevices } from './devices';
import { benchDispatch, type DispatchRow, formatDispatch } from './dispatch';
import { cpuSnapshot, environment, otherCpuOver, otherCpuShare, repoRoot } from './environment';
import { benchEvaluation, type EvaluationRow, formatEvaluation } from './evaluation';
import { benchFactor, type FactorRow, formatFactor, relateFactorToPeak } from './factor';
import { benchForward, type ForwardRow, formatForward } from './forward';
import { benchGeneration, formatGeneration, type GenerationRow } from './generation';
import { benchPrune, formatPrune, type PruneRow, relatePruneToPeak } from './prune';
import type { BenchRow } from './row';
import { runCase } from './runCase';
import { benchSparse, formatSparse, type SparseRow } from './sparse';
import { formatNotes, formatTable, num, type Peaks, pct } from './table';
import { benchTrain, formatTrain, relateTrainToPeak, type TrainRow } from './train';
import { warmUpGpu } from './warmUp';

/** How long a GPU is kept busy before the first case (bench/warmUp.ts). */
const GPU_WARM_UP_SECONDS = 3;

export interface BenchOutcome {
  report: Record<string, unknown>;
  /** Where the JSON report was written. */
  file: string;
  /** Whether any case failed. */
  failed: boolean;
}

export async function runBench(options: BenchOptions, print: (text: string) => void): Promise<BenchOutcome> {
  const plan = suite(options.quick);
  const runs = (section: BenchOptions['sections'][number]) => options.sections.includes(section);
  const startedAt = new Date();
  const rt = await createNodeRuntime();
  const cap = rt.capability;
  print(
    `Adapter: ${cap.vendor} / ${cap.architecture} / ${cap.device || '?'} (${cap.description || 'no description'})` +
      `${cap.isFallbackAdapter ? ', fallback (CPU) adapter' : ''}`,
  );
  if (cap.isFallbackAdapter || cap.architecture === 'swiftshader') {
    print('This is a CPU adapter: its numbers say nothing about real-GPU speed.');
  }
  const busyBefore = await otherCpuOver(1000);
  print(
    `Mode: ${options.quick ? 'quick' : 'full'} (${options.sections.join(', ')}), node ${process.version}, ` +
      `${os.cpus().length} CPUs (${pct(busyBefore)} busy with other work in the second before the start)`,
  );
  if (busyBefore > 0.2) {
    print('Warning: the machine is already busy; other work skews every number below.');
  }
  if (!cap.isFallbackAdapter) {
    const products = await warmUpGpu(rt, GPU_WARM_UP_SECONDS);
    print(
      `Warmed the GPU up first: ${products} products of 2048³ in ${GPU_WARM_UP_SECONDS} s (bench/warmUp.ts).`,
    );
  }
  print('');

  const rows: BenchRow[] = [];
  let dispatch: DispatchRow[] = [];
  let dispatchFailed = false;
  let forward: ForwardRow[] = [];
  let evaluation: EvaluationRow | null = null;
  let prune: PruneRow[] = [];
  let factor: FactorRow[] = [];
  let train: TrainRow[] = [];
  let sparse: SparseRow[] = [];
  let generation: GenerationRow[] = [];
  let plans: PlanRow[] = [];
  let blocks: MeasuredBlockRow[] = [];
  let devices: DevicesRow[] = [];
  const runStart = cpuSnapshot();
  let seed = 1;
  try {
    const cases = plan.cases.filter(
      (c) => !options.cases || `${c.group} · ${c.name}`.includes(options.cases),
    );
    for (const c of runs('kernels') ? cases : []) {
      // FLOPs the kernel executes; the symmetric Gram does about half of 2·rows·width².
      const executed =
        c.kind === 'matmul' ? 2 * c.m * c.n * c.k : c.kind === 'gram' ? c.rows * c.width ** 2 : 0;
      let caseRuns =
        options.runs ?? (executed > plan.bigFlops ? Math.min(plan.runs, plan.bigRuns) : plan.runs);
      // The copy is every %copy's yardstick and takes milliseconds: it gets at least copyRuns runs.
      if (c.kind === 'copy') caseRuns = Math.max(caseRuns, plan.copyRuns);
      process.stderr.write(`  ${c.group} · ${c.name} (${caseRuns} runs) … `);
      const t = performance.now();
      const before = cpuSnapshot();
      try {
        const row = await runCase(rt, c, { runs: caseRuns, jsTargetFlops: plan.jsTargetFlops, seed: seed++ });
        row.otherCpu = otherCpuShare(before, cpuSnapshot());
        rows.push(row);
        process.stderr.write(
          `${num(row.medianMs, 4)} ms${row.kind === 'copy' ? '' : `, ${num(row.gflops)} GFLOP/s`} ` +
            `(case took ${num((performance.now() - t) / 1000)} s)\n`,
        );
      } catch (error) {
        process.stderr.write(`FAILED\n`);
        rows.push({
          ...failedRow(c.group, c.name, c.kind, caseRuns, error),
          otherCpu: otherCpuShare(before, cpuSnapshot()),
        });
        if (rt.isLost) break;
      }
    }
    if (runs('kernels') && !options.cases && !rt.isLost) {
      process.stderr.write('  dispatch cost … ');
      try {
        dispatch = await benchDispatch(rt, options.quick);
        process.stderr.write(`${dispatch.map((r) => `${r.arm} ${num(r.wallUs)} µs`).join(', ')}\n`);
      } catch (error) {
        process.stderr.write('FAILED\n');
        console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
        dispatchFailed = true;
      }
    }
    if (runs('forward') && !rt.isLost)
      forward = await benchForward(rt, options.quick, options.runs ?? (options.quick ? 1 : 3));
    if (runs('forward') && !rt.isLost) evaluation = await benchEvaluation(rt, options.quick);
    if (runs('prune') && !rt.isLost) prune = await benchPrune(rt, options.quick, options.runs);
    if (runs('prune') && !rt.isLost)
      factor = await benchFactor(rt, options.quick, options.runs, options.sparsegptWide ?? false);
    if (runs('blocks')) plans = planRows();
    // On a CPU adapter a LLaMA-2-7B block is pruned by the methods that fit (bench/blocks.ts).
    if (runs('blocks') && !options.quick)
      blocks = await measuredBlockRows(
        blockRuns(options.blockModels ?? [...MEASURED_BLOCK_MODELS], rt.capability.isFallbackAdapter),
      );
    // Its own runtimes per device count, like measuredBlockRows.
    if (runs('blocks')) devices = await benchDevices(options.quick);
    if (runs('train') && !rt.isLost) train = await benchTrain(rt, options.quick, options.runs ?? undefined);
    if (runs('sparse') && !rt.isLost) sparse = await benchSparse(rt, options.quick, options.runs);
    if (runs('generate') && !rt.isLost) generation = await benchGeneration(rt, options.quick);
  } finally {
    rt.destroy();
  }

  const peaks = findPeaks(rows);
  for (const r of rows) {
    if (r.error) continue;
    if (r.kind !== 'copy') r.fracPeakMatmul = r.gflops / peaks.matmulGflops;
    r.fracPeakCopy = r.gbps / peaks.copyGbps;
  }
  relatePruneToPeak(prune, peaks);
  relateFactorToPeak(factor, peaks);
  relateTrainToPeak(train, peaks);

  const otherCpu = otherCpuShare(runStart, cpuSnapshot());
  if (rows.length) print(`\n${formatTable(rows)}\n\n${formatNotes(rows, peaks, otherCpu)}\n`);
  if (dispatch.length) print(`${formatDispatch(dispatch)}\n`);
  if (forward.length) print(`${formatForward(forward)}\n`);
  if (evaluation) print(`${formatEvaluation(evaluation)}\n`);
  if (prune.length) print(`${formatPrune(prune, peaks)}\n`);
  if (factor.length) print(`${formatFactor(factor, peaks)}\n`);
  if (plans.length) print(`${formatPlan(plans)}\n`);
  if (blocks.length) print(`${formatMeasuredBlocks(blocks)}\n`);
  if (devices.length) print(`${formatDevices(devices)}\n`);
  if (train.length) print(`${formatTrain(train)}\n`);
  if (sparse.length) print(`${formatSparse(sparse)}\n`);
  if (generation.length) print(`${formatGeneration(generation)}\n`);

  const finishedAt = new Date();
  const file =
    options.jsonOut ??
    path.join(repoRoot, 'bench', 'results', `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const report = {
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    options: {
      ...options,
      runsDefault: plan.runs,
      bigFlops: plan.bigFlops,
      bigRuns: plan.bigRuns,
      copyRuns: plan.copyRuns,
      jsTargetFlops: plan.jsTargetFlops,
    },
    ...environment(),
    otherCpu: { beforeStart: busyBefore, duringRun: otherCpu },
    capability: cap,
    limits: rt.limits,
    peaks,
    method: {
      time: 'submit → await rt.sync() (queue.onSubmittedWorkDone), median of the timed runs after one warm-up run',
      bytes: 'fewest bytes moved: each input read once, each output written once (copy: read + write)',
      gram: 'flops = 2·rows·width² (delivered); executedFlops = what the symmetric kernel computes (upper tiles)',
      js: 'single-threaded ikj loop on Float32Array over the first js.rows rows of the result; transposed operands packed before timing',
      maxRelError: 'max |gpu − js| / max |js| over the rows the JS loop computed',
    },
    rows,
    dispatch,
    forward,
    evaluation,
    prune,
    factor,
    memoryPlans: plans,
    blocks,
    devices,
    train,
    sparse,
    generation,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  print(`JSON report: ${path.relative(process.cwd(), path.resolve(file)) || file}`);
  const failed =
    dispatchFailed ||
    rows.some((r) => r.error) ||
    prune.some((r) => r.error) ||
    factor.some((r) => r.error) ||
    blocks.some((r) => r.error) ||
    devices.some((r) => r.error) ||
    train.some((r) => r.error) ||
    sparse.some((r) => r.error);
  return { report, file, failed };
}

function findPeaks(rows: readonly BenchRow[]): Peaks {
  const ok = rows.filter((r) => !r.error);
  let best: BenchRow | undefined;
  for (const r of ok) if (r.kind === 'matmul' && (!best || r.gflops > best.gflops)) best = r;
  const copies = ok.filter((r) => r.kind === 'copy').map((r) => r.gbps);
  return {
    matmulGflops: best?.gflops ?? Number.NaN,
    matmulCase: best ? `${best.group} ${best.name}` : 'none',
    copyGbps: copies.length > 0 ? Math.max(...copies) : Number.NaN,
  };
}

function failedRow(
  group: string,
  name: string,
  kind: BenchRow['kind'],
  runs: number,
  error: unknown,
): BenchRow {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.error(message);
  return {
    group,
    name,
    kind,
    layout: '',
    shape: '',
    flops: Number.NaN,
    executedFlops: Number.NaN,
    bytes: Number.NaN,
    runs,
    firstMs: Number.NaN,
    timesMs: [],
    medianMs: Number.NaN,
    minMs: Number.NaN,
    maxMs: Number.NaN,
    gflops: Number.NaN,
    gbps: Number.NaN,
    gpuMs: null,
    gpuGflops: null,
    fracPeakMatmul: null,
    fracPeakCopy: null,
    js: null,
    vsJs: null,
    maxRelError: null,
    otherCpu: Number.NaN,
    error: message,
  };
}
