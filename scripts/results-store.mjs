// The saved runs behind the results scripts (prune-results.mjs, prune-sweep.mjs, train-results.mjs).
// Every finished CLI run is written to the store at once, keyed by what it ran, so an interrupted
// script resumes where it stopped; the store is reused only while the script's settings are the same
// (RESULTS_FRESH=1 starts over). Beside each result the store keeps how the run went on this shared
// machine: its wall and CPU seconds (/usr/bin/time, the CLI process and its threads, evaluation
// included) and the load average at its start and end, so a time taken under load reads as such.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** `run(key, args)` and `run.measured(key)` over the store at `path`. */
export function resultsStore(path, settings, cliPath = process.env.RESULTS_CLI ?? 'dist-node/cli.js') {
  const previous =
    existsSync(path) && !process.env.RESULTS_FRESH ? JSON.parse(readFileSync(path, 'utf8')) : null;
  const cache = new Map(
    previous && JSON.stringify(previous.settings) === JSON.stringify(settings)
      ? previous.records.map((r) => [r.key, r])
      : [],
  );
  const timesFile = join(tmpdir(), `results-store-${process.pid}.time`);
  /** The CLI's JSON for these arguments, from the store or from a fresh run (null: not saved, RESULTS_SAVED_ONLY). */
  function run(key, args) {
    const cached = cache.get(key);
    if (cached) return cached.result;
    // RESULTS_SAVED_ONLY=1: the tables from the runs saved so far, running nothing.
    if (process.env.RESULTS_SAVED_ONLY) return null;
    process.stderr.write(`${key}\n`);
    const loadBefore = loadavg()[0];
    const result = JSON.parse(
      execFileSync('/usr/bin/time', ['-f', '%e %U %S', '-o', timesFile, 'node', cliPath, ...args, '--json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 28,
      }),
    );
    const [wallS, userS, systemS] = readFileSync(timesFile, 'utf8').trim().split(/\s+/).map(Number);
    rmSync(timesFile, { force: true });
    const measured = { wallS, cpuS: userS + systemS, load: [loadBefore, loadavg()[0]] };
    process.stderr.write(`  (${wallS.toFixed(0)} s, ${measured.cpuS.toFixed(0)} s CPU)\n`);
    cache.set(key, { key, args, result, measured });
    writeFileSync(path, `${JSON.stringify({ settings, records: [...cache.values()] }, null, 2)}\n`);
    return result;
  }
  /** How a stored run went (undefined for runs stored before this was kept). */
  run.measured = (key) => cache.get(key)?.measured;
  return run;
}
