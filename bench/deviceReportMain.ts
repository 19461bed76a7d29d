// The last stage of `scripts/device-bench.sh run`: reads what the stages left in the work folder
// (our benchmark's JSON per section, PyTorch's, stages.tsv and each stage's log), merges it into one
// JSON report and prints the comparison. Missing files are recorded, not fatal: a stage that hung or
// failed still leaves a report that says so.
//
// Usage: node dist-node/device-report.js --work DIR --manifest .device/manifest.json --out FILE

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compareToTorch, formatComparison, parseStages, summarize, type TorchRow } from './deviceReport';
import type { BenchRow } from './row';

const SECTIONS = ['kernels', 'sparse', 'forward', 'prune', 'train', 'generate', 'blocks'] as const;
/** Characters of a failed stage's log kept in the report. */
const LOG_TAIL = 4000;

type Json = Record<string, unknown>;

function flag(name: string): string {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (!value) throw new Error(`${name} is required (usage: --work DIR --manifest FILE --out FILE)`);
  return value;
}

function readJson(file: string): Json | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (error) {
    return { unreadable: String(error) };
  }
}

function main(): void {
  const work = flag('--work');
  const out = flag('--out');
  const env = process.env;
  const stages = parseStages(readFileSync(path.join(work, 'stages.tsv'), 'utf8')).map((s) => {
    const log = path.join(work, `${s.name}.log`);
    const failed = s.status !== 0;
    return failed && existsSync(log) ? { ...s, logTail: readFileSync(log, 'utf8').slice(-LOG_TAIL) } : s;
  });
  const bench: Record<string, Json | null> = {};
  for (const section of SECTIONS) bench[section] = readJson(path.join(work, `bench-${section}.json`));
  const torch = readJson(path.join(work, 'torch.json'));
  const ourRows = (bench.kernels?.rows ?? []) as BenchRow[];
  const torchRows = (torch?.rows ?? []) as TorchRow[];
  const comparison = compareToTorch(ourRows, torchRows);
  const adapter = Object.values(bench).find((r) => r?.capability)?.capability ?? null;
  const torchDevice = torch ? `${torch.device} (${torch.deviceName})` : 'no PyTorch run';
  const started = Number(env.DEVICE_BENCH_STARTED);

  const report = {
    schema: 1,
    kind: 'device-bench',
    startedAt: Number.isFinite(started) ? new Date(started * 1000).toISOString() : null,
    finishedAt: new Date().toISOString(),
    mode: env.DEVICE_BENCH_MODE ?? null,
    budgetSeconds: Number(env.DEVICE_BENCH_BUDGET) || null,
    driver: env.DEVICE_BENCH_DRIVER ?? null,
    adapter,
    host: {
      vulkanLoader: env.DEVICE_BENCH_LOADER ?? null,
      ldconfig: env.DEVICE_BENCH_LDCONFIG?.split('\n').filter(Boolean) ?? [],
      nvidiaSmi: env.DEVICE_BENCH_NVIDIA_SMI || null,
      python: env.DEVICE_BENCH_PYTHON_USED || null,
      env: {
        VK_ICD_FILENAMES: env.VK_ICD_FILENAMES ?? null,
        VK_DRIVER_FILES: env.VK_DRIVER_FILES ?? null,
        LD_LIBRARY_PATH: env.LD_LIBRARY_PATH ?? null,
      },
    },
    pack: readJson(flag('--manifest')),
    stages,
    method: {
      ours: 'bench/ (npm run bench): submit → queue.onSubmittedWorkDone, median of timed runs after a warm-up',
      torch: torch?.method ?? null,
      fraction:
        'our GFLOP/s ÷ PyTorch GFLOP/s for the same m, n, k and layout, FLOPs = 2·m·n·k on both sides',
    },
    torch: torch
      ? {
          device: torch.device ?? null,
          deviceName: torch.deviceName ?? null,
          versions: torch.versions ?? null,
          python: torch.python ?? null,
          threads: torch.threads ?? null,
          settings: torch.settings ?? null,
          error: torch.error ?? null,
          rows: torchRows,
        }
      : null,
    summary: {
      float32: summarize(comparison, 'float32'),
      bfloat16: summarize(comparison, 'bfloat16'),
      gpuFloat32: summarize(comparison, 'float32', 'gpu'),
      gpuBfloat16: summarize(comparison, 'bfloat16', 'gpu'),
    },
    comparison,
    bench,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);

  const caps = adapter as { vendor?: string; architecture?: string; description?: string } | null;
  console.log(
    `\nAdapter: ${caps ? `${caps.vendor} / ${caps.architecture} (${caps.description || 'no description'})` : 'none'}`,
  );
  console.log(
    `Stages: ${stages.map((s) => `${s.name} ${s.timedOut ? 'TIMED OUT' : s.status === 0 ? 'ok' : s.status} (${s.seconds} s)`).join(', ')}`,
  );
  if (comparison.length) console.log(`\n${formatComparison(comparison, torchDevice)}\n`);
  for (const [key, dtype, basis] of [
    ['float32', 'float32', 'wall time'],
    ['bfloat16', 'bfloat16', 'wall time'],
    ['gpuFloat32', 'float32', 'GPU time'],
    ['gpuBfloat16', 'bfloat16', 'GPU time'],
  ] as const) {
    const s = report.summary[key];
    if (s.median !== null)
      console.log(
        `Median of ours (${basis}) / torch ${dtype}: ${(100 * s.median).toFixed(1)} % over ${s.count} products ` +
          `(best ${s.best?.case} ${(100 * (s.best?.frac ?? 0)).toFixed(1)} %, worst ${s.worst?.case} ${(100 * (s.worst?.frac ?? 0)).toFixed(1)} %)`,
      );
  }
  console.log(`Report: ${out}`);
}

main();
