// Command-line options of `npm run bench`, parsed by hand (no dependency for a few flags). The CLI's
// `bench` command takes the same options through commander.

import type { RealModel } from './realModels';

/** The parts of the benchmark, in the order they run. */
export const BENCH_SECTIONS = [
  'kernels',
  'forward',
  'prune',
  'blocks',
  'train',
  'sparse',
  'generate',
] as const;
export type BenchSection = (typeof BENCH_SECTIONS)[number];

/** The models the blocks section can prune one block of (bench/blocks.ts). */
export const MEASURED_BLOCK_MODELS: readonly RealModel[] = ['OPT-125M', 'LLaMA-2-7B'];

export interface BenchOptions {
  /** Small sizes only: a smoke run that finishes in well under a minute on a CPU adapter. */
  quick: boolean;
  /** Timed runs per case after the warm-up run; null = the default (see defaultRuns). */
  runs: number | null;
  /** Where the JSON report goes; null = bench/results/bench-<timestamp>.json. */
  jsonOut: string | null;
  /** The sections to run (all by default). */
  sections: BenchSection[];
  /** Only the kernel cases whose 'group · name' contains this text; null = all. */
  cases: string | null;
  /** Also time SparseGPT's factor at LLaMA-7B's widths 4096 and 11008 (hours on a CPU adapter). */
  sparsegptWide?: boolean;
  /** The models whose one block the blocks section prunes for real (full mode); default both. */
  blockModels?: RealModel[];
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]
  --quick          small sizes only (a smoke run)
  --runs N         timed runs per case after one warm-up run (default 5, 3 for quick;
                   without --runs, products above 4 GFLOP get 3; the copy always gets >= 10)
  --sparsegpt-wide also time SparseGPT's factor at widths 4096 and 11008 (prune section;
                   half an hour to hours on a CPU adapter)
  --block-models LIST  the models whose one block the blocks section prunes for real, comma-
                   separated: ${MEASURED_BLOCK_MODELS.join(', ')} (full mode; default both)
  --json-out PATH  write the JSON report to PATH instead of bench/results/bench-<timestamp>.json
  --only LIST      run only these sections, comma-separated: ${BENCH_SECTIONS.join(', ')}
  --cases TEXT     only the kernel cases whose group or name contains TEXT (e.g. n=128, Gram)
  --help           print this text`;

export function parseArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    quick: false,
    runs: null,
    jsonOut: null,
    sections: [...BENCH_SECTIONS],
    cases: null,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value\n\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--quick':
        options.quick = true;
        break;
      case '--runs': {
        const text = value();
        const n = Number(text);
        if (!Number.isInteger(n) || n < 1)
          throw new Error(`--runs must be a positive integer, got "${text}"`);
        options.runs = n;
        break;
      }
      case '--json-out':
        options.jsonOut = value();
        break;
      case '--only':
        options.sections = parseSections(value());
        break;
      case '--cases':
        options.cases = value();
        break;
      case '--sparsegpt-wide':
        options.sparsegptWide = true;
        break;
      case '--block-models':
        options.blockModels = parseBlockModels(value());
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      default:
        throw new Error(`Unknown option "${arg}"\n\n${USAGE}`);
    }
  }
  return options;
}

/** 'LLaMA-2-7B' → those models in run order; an unknown name throws with the valid ones. */
export function parseBlockModels(list: string): RealModel[] {
  return pickInOrder(list, MEASURED_BLOCK_MODELS, 'block model');
}

/** 'kernels,prune' → those sections in run order; an unknown name throws with the valid ones. */
export function parseSections(list: string): BenchSection[] {
  return pickInOrder(list, BENCH_SECTIONS, 'bench section');
}

/** The names of a comma-separated list, in `valid`'s order; an unknown one throws naming the valid ones. */
function pickInOrder<T extends string>(list: string, valid: readonly T[], what: string): T[] {
  const names = list.split(',').map((s) => s.trim());
  for (const name of names)
    if (!(valid as readonly string[]).includes(name))
      throw new Error(`unknown ${what} "${name}": choose from ${valid.join(', ')}`);
  return valid.filter((v) => names.includes(v));
}
