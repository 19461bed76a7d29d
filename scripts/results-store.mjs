// The saved runs behind the results scripts (prune-results.mjs, prune-sweep.mjs, train-results.mjs).
// Every finished CLI run is written to the store at once, keyed by what it ran, so an interrupted
// script resumes where it stopped; the store is reused only while the script's settings are the same
// (RESULTS_FRESH=1 starts over).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** `run(key, args)`: the CLI's JSON for these arguments, from the store or from a fresh run. */
export function resultsStore(path, settings, cliPath = process.env.RESULTS_CLI ?? 'dist-node/cli.js') {
  const previous =
    existsSync(path) && !process.env.RESULTS_FRESH ? JSON.parse(readFileSync(path, 'utf8')) : null;
  const cache = new Map(
    previous && JSON.stringify(previous.settings) === JSON.stringify(settings)
      ? previous.records.map((r) => [r.key, r])
      : [],
  );
  return function run(key, args) {
    const cached = cache.get(key);
    if (cached) return cached.result;
    process.stderr.write(`${key}\n`);
    const started = Date.now();
    const result = JSON.parse(
      execFileSync('node', [cliPath, ...args, '--json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 28,
      }),
    );
    process.stderr.write(`  (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    cache.set(key, { key, args, result });
    writeFileSync(path, `${JSON.stringify({ settings, records: [...cache.values()] }, null, 2)}\n`);
    return result;
  };
}
