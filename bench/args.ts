// Command-line options of `npm run bench`, parsed by hand (no dependency for three flags).

export interface BenchOptions {
  /** Small sizes only: a smoke run that finishes in well under a minute on a CPU adapter. */
  quick: boolean;
  /** Timed runs per case after the warm-up run; null = the default (see defaultRuns). */
  runs: number | null;
  /** Where the JSON report goes; null = bench/results/bench-<timestamp>.json. */
  jsonOut: string | null;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]
  --quick          small sizes only (a smoke run)
  --runs N         timed runs per case after one warm-up run (default 5, 3 for quick;
                   without --runs, products above 4 GFLOP get 3; the copy always gets >= 10)
  --json-out PATH  write the JSON report to PATH instead of bench/results/bench-<timestamp>.json
  --help           print this text`;

export function parseArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { quick: false, runs: null, jsonOut: null, help: false };
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
