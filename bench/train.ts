// Training throughput: one training step (forward and backward of one window, then the optimizer)
// for each optimizer on the model presets, with the optimizer's share of the step and Adapprox's
// overhead over AdamW. Each arm first takes two untimed steps (the first allocates the optimizer's
// state and compiles its pipelines); the median of the timed steps is reported. A preset's arms
// take their steps in turn (one step each, round after round), so that their ratios are taken
// under the same conditions. The model's rate
// counts 6 FLOPs per parameter per token (forward 2, backward 4) plus attention's 12·layers·T²·d
// per window; AdamW's bytes are its fewest: p, g, m, v read and p, m, v written, 4 bytes each.

import { withGpuClock } from '../src/gpu/meter';
import type { GpuCounters, GpuRuntime } from '../src/gpu/runtime';
import { paceDawnPolling } from '../src/host/dawnPolling';
import { Random } from '../src/kernels/random';
import { TrainArm } from '../src/train/arm';
import { parameterCount } from '../src/train/job';
import { initialWeights, type PresetName, presetConfig } from '../src/train/modelPresets';
import type { OptimizerChoice } from '../src/train/optim';
import { type BenchCounters, medianCounts } from './counters';
import { num, type Peaks, pct } from './table';

export interface TrainRow {
  preset: PresetName;
  optimizer: string;
  parameters: number;
  tokens: number;
  runs: number;
  modelMs: number;
  optimizerMs: number;
  /** optimizerMs / (modelMs + optimizerMs). */
  optimizerShare: number;
  /** Persistent optimizer state after the timed steps. */
  stateBytes: number;
  modelGflops: number;
  /** AdamW only: its fewest bytes over its time, and that over the run's copy peak. */
  optimizerGbps: number | null;
  fracPeakCopy: number | null;
  /** (this optimizer's ms − AdamW's) / AdamW's, for the optimizer alone and the whole step. */
  overOptimizerAdamW: number | null;
  overStepAdamW: number | null;
  /**
   * GPU work of a whole step (forward, backward, optimizer) and of the optimizer alone: counts,
   * the median of the timed steps; GPU ms, the second untimed step's, on the GPU's clock.
   */
  stepCounters: BenchCounters;
  optimizerCounters: BenchCounters;
  /** The optimizer's GPU ms per kernel (pipeline label) in one more, profiled step; null without timestamps. */
  optimizerKernels: Record<string, number> | null;
  error?: string;
}

const ARMS: { label: string; choice: OptimizerChoice; cpuOnly?: true; gpuOnly?: true; spin?: true }[] = [
  { label: 'AdamW', choice: { kind: 'adamw' } },
  { label: 'Adafactor', choice: { kind: 'adafactor' } },
  { label: 'CAME', choice: { kind: 'came' } },
  { label: 'Adapprox', choice: { kind: 'adapprox' } },
  { label: 'Adapprox without M', choice: { kind: 'adapprox', options: { beta1: 0 } } },
  // Each of the two speed-ups of issue 12 turned off alone, so one run measures both: the cold
  // start (a fresh Gaussian sketch, l = 5) and one S-RSI dispatch per small matrix (no batch).
  { label: 'Adapprox, cold start', choice: { kind: 'adapprox', options: { warmStart: false } } },
  { label: 'Adapprox, S-RSI per matrix', choice: { kind: 'adapprox', options: { batchBytes: 0 } } },
  // On a CPU adapter only: the S-RSI batch at a GPU's workgroup size (a CPU adapter's default is
  // 4, srsiWorkgroup in src/train/optim/srsiGpu.ts), and AdamW and Adapprox again with Dawn's
  // polls spinning as they do unpaced (src/host/dawnPolling.ts): the pacing's gain, measured in
  // the same run.
  {
    label: 'Adapprox, S-RSI workgroups of 64',
    choice: { kind: 'adapprox', options: { srsiGroup: 64 } },
    cpuOnly: true,
  },
  // On a GPU only, settings for a GPU run to measure before they could become its defaults (none
  // has run them yet): every matrix's S-RSI in the batch, a workgroup of 256 each, and only
  // parameters up to 16384 elements on the fused step. On an H200 the paper preset's per-matrix
  // S-RSI (skinny products, then one single-workgroup QR and eigensolver after another) took 96 GPU
  // ms of its 104 ms optimizer step (bench/README.md); the batch runs the matrices side by side.
  {
    label: 'Adapprox, every matrix batched',
    choice: {
      kind: 'adapprox',
      options: { fuseBelow: 2 ** 31, fuseStepUpTo: 16384, batchBytes: 256 * 2 ** 20, srsiGroup: 256 },
    },
    gpuOnly: true,
  },
  { label: 'AdamW, Dawn spinning', choice: { kind: 'adamw' }, spin: true },
  { label: 'Adapprox, Dawn spinning', choice: { kind: 'adapprox' }, spin: true },
];

type ArmSpec = (typeof ARMS)[number];
type StepResult = Awaited<ReturnType<TrainArm['step']>>;

/** One arm of a preset while the bench runs it. */
interface LiveArm {
  spec: ArmSpec;
  arm: TrainArm | null;
  /** Set when the arm failed; it takes no further steps. */
  error?: string;
  /** The second untimed step, on the GPU clock. */
  clocked?: StepResult;
  model: number[];
  opt: number[];
  stepCounts: GpuCounters[];
  optimizerCounts: GpuCounters[];
  stateBytes?: number;
  kernels?: StepResult['optimizerGpuMsByKernel'];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

export async function benchTrain(
  rt: GpuRuntime,
  quick: boolean,
  runs: number | undefined,
): Promise<TrainRow[]> {
  const presets: PresetName[] = quick ? ['nano', 'tiny'] : ['nano', 'tiny', 'small', 'paper'];
  const timed = runs ?? (quick ? 3 : 5);
  const rows: TrainRow[] = [];
  for (const preset of presets) {
    const config = presetConfig(preset, 'gpt2', { size: 512, bosId: 1, eosId: 2 });
    const T = Math.min(config.maxPositions, quick ? 64 : 128);
    const random = new Random(7);
    const ids = Array.from({ length: T + 1 }, () => Math.floor(random.next() * config.vocabSize));
    const batch = [{ ids: ids.slice(0, T), targets: ids.slice(1) }];
    const parameters = parameterCount(config);
    const flops = 6 * parameters * T + 12 * config.layers * T * T * config.hidden;
    const start = initialWeights(config, 1);
    // Every arm of the preset is created first, and each phase (warm-up, clocked step, every timed
    // step, profiled step) visits the arms in turn: a drift of the device's speed over the preset
    // (a GPU's clocks, another process) then reaches all arms alike instead of favoring the later.
    const arms: LiveArm[] = ARMS.filter(
      (a) =>
        // Dawn's polls are paced on a CPU adapter only, so spinning arms are CPU-only too.
        !((a.cpuOnly || a.spin) && !rt.capability.isFallbackAdapter) &&
        !(a.gpuOnly && rt.capability.isFallbackAdapter),
    ).map((spec) => ({ spec, arm: null, model: [], opt: [], stepCounts: [], optimizerCounts: [] }));
    process.stderr.write(`  train · ${preset} · ${arms.length} arms in turn (${timed} timed steps each) … `);
    // Runs one arm's share of a phase; a failure ends that arm (its row says why), not the others.
    const visit = async (live: LiveArm, work: (arm: TrainArm) => Promise<void>) => {
      if (live.error || rt.isLost) return;
      if (live.spec.spin) paceDawnPolling(false);
      try {
        live.arm ??= await TrainArm.create(rt, config, start, live.spec.choice, `bench ${live.spec.label}`);
        await work(live.arm);
      } catch (error) {
        live.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        live.arm?.destroy();
        live.arm = null;
      } finally {
        if (live.spec.spin) paceDawnPolling(true);
      }
    };
    try {
      // Small lr: the bench measures speed, and the weights must stay finite for every step. The
      // second untimed step runs on the GPU's clock (timestamps slow the wall clock).
      for (const live of arms) await visit(live, (arm) => arm.step(rt, batch, 1e-4).then(() => undefined));
      for (const live of arms)
        await visit(live, async (arm) => {
          live.clocked = await withGpuClock(rt, true, () => arm.step(rt, batch, 1e-4));
        });
      for (let i = 0; i < timed; i++)
        for (const live of arms)
          await visit(live, async (arm) => {
            const r = await arm.step(rt, batch, 1e-4);
            live.model.push(r.modelMs);
            live.opt.push(r.optimizerMs);
            live.stepCounts.push(r.counters);
            live.optimizerCounts.push(r.optimizerCounters);
          });
      // The state after the timed steps, then one more step, profiled (its times are not used:
      // timing every pass slows it; it may change Adapprox's ranks, hence the state first).
      for (const live of arms)
        await visit(live, async (arm) => {
          live.stateBytes = arm.optimizer.stateBytes().persistent;
          const profiled = await arm.step(rt, batch, 1e-4, { profileOptimizer: true });
          live.kernels = profiled.optimizerGpuMsByKernel;
        });
    } finally {
      for (const live of arms) live.arm?.destroy();
    }
    process.stderr.write(`${arms.filter((a) => a.error).length ? 'some FAILED' : 'done'}\n`);
    for (const live of arms) {
      const { label, choice } = live.spec;
      const arm = { preset, optimizer: label, parameters, tokens: T, runs: timed };
      if (live.error || !live.clocked) {
        process.stderr.write(`    ${label}: FAILED ${live.error ?? 'device lost'}\n`);
        rows.push({
          ...arm,
          modelMs: Number.NaN,
          optimizerMs: Number.NaN,
          optimizerShare: Number.NaN,
          stateBytes: Number.NaN,
          modelGflops: Number.NaN,
          optimizerGbps: null,
          fracPeakCopy: null,
          overOptimizerAdamW: null,
          overStepAdamW: null,
          stepCounters: medianCounts([], null),
          optimizerCounters: medianCounts([], null),
          optimizerKernels: null,
          error: live.error ?? 'the device was lost',
        });
        continue;
      }
      const modelMs = median(live.model);
      const optimizerMs = median(live.opt);
      rows.push({
        ...arm,
        modelMs,
        optimizerMs,
        optimizerShare: optimizerMs / (modelMs + optimizerMs),
        stateBytes: live.stateBytes ?? Number.NaN,
        modelGflops: flops / modelMs / 1e6,
        optimizerGbps: choice.kind === 'adamw' ? (7 * 4 * parameters) / optimizerMs / 1e6 : null,
        fracPeakCopy: null,
        overOptimizerAdamW: null,
        overStepAdamW: null,
        stepCounters: medianCounts(live.stepCounts, live.clocked.counters.gpuMs),
        optimizerCounters: medianCounts(live.optimizerCounts, live.clocked.optimizerCounters.gpuMs),
        optimizerKernels: live.kernels ? Object.fromEntries(live.kernels) : null,
      });
      const o = live.optimizerCounts[0];
      process.stderr.write(
        `    ${label}: ${num(modelMs)} + ${num(optimizerMs)} ms; optimizer: read-backs ${o?.readbacks}, dispatches ${o?.dispatches}\n`,
      );
    }
    if (rt.isLost) return rows;
    const adamw = rows.find((r) => r.preset === preset && r.optimizer === 'AdamW' && !r.error);
    if (adamw) {
      for (const r of rows.filter((x) => x.preset === preset && !x.error)) {
        r.overOptimizerAdamW = (r.optimizerMs - adamw.optimizerMs) / adamw.optimizerMs;
        r.overStepAdamW =
          (r.modelMs + r.optimizerMs - adamw.modelMs - adamw.optimizerMs) /
          (adamw.modelMs + adamw.optimizerMs);
      }
    }
  }
  return rows;
}

export function relateTrainToPeak(rows: TrainRow[], peaks: Peaks): void {
  for (const r of rows) if (r.optimizerGbps !== null) r.fracPeakCopy = r.optimizerGbps / peaks.copyGbps;
}

export function formatTrain(rows: readonly TrainRow[]): string {
  const lines = [
    'Training step, one window (forward + backward, then the optimizer); median of the timed steps:',
    '',
    '| model | params | tokens | optimizer | model ms | optimizer ms | optimizer share | vs AdamW (optimizer / step) | state bytes | model GFLOP/s | AdamW GB/s (of copy peak) |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) =>
      r.error
        ? `| ${r.preset} | ${r.parameters} | ${r.tokens} | ${r.optimizer} | failed: ${r.error} |||||||`
        : `| ${r.preset} | ${r.parameters.toLocaleString('en-US')} | ${r.tokens} | ${r.optimizer} | ${num(r.modelMs)} | ${num(r.optimizerMs)} | ${pct(r.optimizerShare)} | ` +
          `${r.overOptimizerAdamW === null ? '—' : `${signed(r.overOptimizerAdamW)} / ${signed(r.overStepAdamW ?? 0)}`} | ` +
          `${r.stateBytes.toLocaleString('en-US')} | ${num(r.modelGflops)} | ${r.optimizerGbps === null ? '—' : `${num(r.optimizerGbps)} (${pct(r.fracPeakCopy)})`} |`,
    ),
    '',
    'GPU work per training step, the whole step (the optimizer alone in parentheses):',
    '',
    '| model | optimizer | read-backs | kB read | dispatches | submits | GPU ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows
      .filter((r) => !r.error)
      .map((r) => {
        const s = r.stepCounters;
        const o = r.optimizerCounters;
        const count = (x: number) => (Number.isInteger(x) ? String(x) : num(x));
        const pair = (a: number | null, b: number | null, show: (x: number) => string) =>
          a === null || b === null ? 'n/a' : `${show(a)} (${show(b)})`;
        const kB = (x: number) => num(x / 1000);
        const ms = (x: number) => num(x, 4);
        return (
          `| ${r.preset} | ${r.optimizer} | ${pair(s.readbacks, o.readbacks, count)} | ` +
          `${pair(s.bytesRead, o.bytesRead, kB)} | ${pair(s.dispatches, o.dispatches, count)} | ` +
          `${pair(s.submissions, o.submissions, count)} | ${pair(s.gpuMs, o.gpuMs, ms)} |`
        );
      }),
    '',
    '* Counts: median of the timed steps (read-backs = GPU→CPU copies waited for; submits = command ' +
      'buffers queued). GPU ms: the second untimed step, timed on the GPU clock (timestamp queries; n/a without them).',
    '',
    "The optimizer's GPU ms per kernel (pipeline label), one profiled step after the timed ones, largest first:",
    '',
    '| model | optimizer | GPU ms by kernel |',
    '| --- | --- | --- |',
    ...rows
      .filter((r) => !r.error && r.optimizerKernels)
      .map((r) => {
        const byKernel = Object.entries(r.optimizerKernels ?? {}).sort((a, b) => b[1] - a[1]);
        return `| ${r.preset} | ${r.optimizer} | ${byKernel.map(([k, ms]) => `${k} ${num(ms, 3)}`).join(', ')} |`;
      }),
  ];
  return lines.join('\n');
}

const signed = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(0)}%`;
