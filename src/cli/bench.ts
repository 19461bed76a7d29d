// `bench`: the benchmark of `npm run bench` (bench/run.ts) from the CLI, whole or by section. As
// with every command, the tables go to stderr and --json prints the report on stdout.

import { type Command, InvalidArgumentError } from 'commander';
import { BENCH_SECTIONS, type BenchSection, parseSections } from '../../bench/args';
import { runBench } from '../../bench/run';
import type { Peaks } from '../../bench/table';
import { emit, positiveInt } from './shared';

interface BenchCliOptions {
  quick?: boolean;
  runs?: number;
  only?: BenchSection[];
  cases?: string;
  jsonOut?: string;
  json?: boolean;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(
      "measure the engine's speed on this adapter: kernels, a forward pass, FISTAPruner, a training step",
    )
    .option('--quick', 'small sizes only (a smoke run)')
    .option('--runs <n>', 'timed runs per case after one warm-up run', positiveInt)
    .option(
      `--only <sections>`,
      `run only these sections (comma-separated: ${BENCH_SECTIONS.join(', ')})`,
      (v) => {
        try {
          return parseSections(v);
        } catch (error) {
          throw new InvalidArgumentError((error as Error).message);
        }
      },
    )
    .option(
      '--cases <text>',
      "only the kernel cases whose group or name contains this text ('n=128', 'Gram')",
    )
    .option('--json-out <path>', 'write the JSON report here (default: bench/results/bench-<time>.json)')
    .option('--json', 'print the report as one JSON object on stdout')
    .action(async (cli: BenchCliOptions) => {
      const { report, file, failed } = await runBench(
        {
          quick: Boolean(cli.quick),
          runs: cli.runs ?? null,
          jsonOut: cli.jsonOut ?? null,
          sections: cli.only ?? [...BENCH_SECTIONS],
          cases: cli.cases ?? null,
          help: false,
        },
        (text) => process.stderr.write(`${text}\n`),
      );
      if (failed) throw new Error(`some benchmark cases failed; their errors are in ${file}`);
      const peaks = report.peaks as Peaks;
      emit(
        Boolean(cli.json),
        report,
        `bench: ${Number.isFinite(peaks.matmulGflops) ? `best matmul ${peaks.matmulGflops.toFixed(2)} GFLOP/s (${peaks.matmulCase}), copy ${peaks.copyGbps.toFixed(1)} GB/s; ` : ''}report in ${file}`,
      );
    });
}
