// What the CLI's commands share: where the built-in files are, argument parsers, output, and the
// GPU runtime's lifetime.

import { basename } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Bound, describeBound, inBound } from '../bounds/bound';
import type { WorkCounters } from '../gpu/meter';
import type { GpuRuntime } from '../gpu/runtime';
import { folderSources } from '../host/nodeFiles';
import { createNodeRuntime } from '../host/nodeGpu';
import { projectRoot } from '../host/projectRoot';
import { inspectFiles, readTokenizer } from '../jobs/load';
import type { SparseExportFormat } from '../model/sparseSafetensors';
import { NM_FORMAT_MAX_M } from '../sparse/nmFormat';

/** The project root with a trailing slash, where public/ holds the built-in model and texts. */
export const ROOT = `${projectRoot()}/`;

/**
 * Commander's parser for a numeric option within a bound (PRUNE_BOUNDS, TRAIN_BOUNDS, …): anything
 * else is a usage error (exit 2) that names the option and says, in describeBound's words, what it
 * takes, before any file is read.
 */
export function within(b: Bound): (value: string) => number {
  return (value) => {
    const n = value.trim() === '' ? Number.NaN : Number(value);
    if (!inBound(b, n)) throw new InvalidArgumentError(`expected ${describeBound(b)}`);
    return n;
  };
}

const upward = (min: number, whole: boolean): Bound => ({ min, max: Number.POSITIVE_INFINITY, whole });
/** Counts whose upper end is the model's or the machine's, checked where those are known. */
export const positiveInt = within(upward(1, true));
export const nonNegativeInt = within(upward(0, true));
export const nonNegative = within(upward(0, false));

/** --budget-gib of the commands that check a model fits: WebGPU does not report the GPU's memory. */
export const budgetOption = () =>
  new Option('--budget-gib <n>', 'GPU memory budget for the fit check (WebGPU does not report it)')
    .argParser(within({ ...upward(0, false), openMin: true }))
    .default(4);

/** An option that takes one of `values` (commander checks them: a usage error names the choices). */
export function choice(flags: string, help: string, values: readonly string[], value?: string): Option {
  const option = new Option(flags, help).choices(values);
  return value === undefined ? option : option.default(value);
}

/** A wrong argument found once the model is open: the usage and exit 2, as commander's own. */
export function usageError(command: Command, message: string): never {
  command.error(`error: ${message}`, { exitCode: 2, code: 'commander.invalidArgument' });
}

/**
 * --gpu-time and --no-gpu-time: whether a job times its work on the GPU's clock for the counters'
 * GPU ms (src/gpu/meter.ts withGpuClock); neither leaves it to the adapter.
 */
export function addGpuTimeOption(command: Command): Command {
  return command
    .option(
      '--gpu-time',
      "time the work on the GPU's clock (timestamp queries) for the GPU ms of the counters " +
        '(default: on a real GPU, off on a CPU adapter, where it costs about a fifth more time)',
    )
    .option('--no-gpu-time', "do not time the work on the GPU's clock");
}

/**
 * --sparse N:M or --sparse bitmask: keep the blocks' matrices compressed on the GPU in that format and
 * multiply with the sparse kernels (a pruned model's pattern: 2:4, 4:8, …; bitmask for unstructured).
 */
export function parseSparse(value: string): SparseExportFormat {
  if (value === 'bitmask') return { format: 'bitmask' };
  const nm = /^(\d+):(\d+)$/.exec(value);
  const n = Number(nm?.[1]);
  const m = Number(nm?.[2]);
  if (!nm || n < 1 || n >= m || m > NM_FORMAT_MAX_M)
    throw new InvalidArgumentError(
      `expected N:M with 1 ≤ N < M ≤ ${NM_FORMAT_MAX_M} (such as 2:4), or bitmask`,
    );
  return { format: 'nm', n, m };
}

export const SPARSE_HELP =
  "keep the blocks' matrices compressed on the GPU (N:M such as 2:4, or bitmask) and multiply with the sparse kernels; the model must already be pruned to that pattern";

/** '535 read-backs (37.9 kB), 2243 dispatches in 1104 submissions, GPU 12.1 s' for a summary line. */
export function formatCounters(c: WorkCounters): string {
  const kb = c.bytesRead / 1000;
  const bytes = kb >= 1000 ? `${(kb / 1000).toFixed(1)} MB` : `${kb.toFixed(1)} kB`;
  return (
    `${c.readbacks} read-backs (${bytes}), ${c.dispatches} dispatches in ${c.submissions} submissions` +
    (c.gpuMs === null ? '' : `, GPU ${formatMsShort(c.gpuMs)}`)
  );
}

const formatMsShort = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(1)} ms`);

export function emit(json: boolean, result: object, summary: string): void {
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stderr.write(`${summary}\n`);
}

export async function withRuntime<T>(fn: (rt: GpuRuntime) => Promise<T>): Promise<T> {
  const rt = await createNodeRuntime();
  try {
    return await fn(rt);
  } finally {
    rt.destroy();
  }
}

/**
 * Runtimes for a job that continues after a lost device (src/jobs): per slot (a job on several
 * devices at once names which), the same runtime while its device lives, a new one after it is
 * lost. Every one made is destroyed at the end.
 */
export async function withRuntimes<T>(
  fn: (acquire: (slot?: number) => Promise<GpuRuntime>) => Promise<T>,
): Promise<T> {
  const made: GpuRuntime[] = [];
  const current = new Map<number, GpuRuntime>();
  const acquire = async (slot = 0) => {
    let rt = current.get(slot);
    if (!rt || rt.isLost) {
      rt = await createNodeRuntime();
      current.set(slot, rt);
      made.push(rt);
    }
    return rt;
  };
  try {
    return await fn(acquire);
  } finally {
    for (const rt of made) if (!rt.isLost) rt.destroy();
  }
}

/**
 * A model folder (or one llama2.c file) opened by the load job, as the studio opens dropped files:
 * its headers, weights (read lazily), config, tokenizer and the tokenizer's files.
 */
export async function openModelFolder(path: string) {
  const inspected = await inspectFiles(basename(path), await folderSources(path));
  const { tokenizer, files: tokenizerFiles } = await readTokenizer(inspected);
  return { inspected, opened: inspected.opened, config: inspected.opened.config, tokenizer, tokenizerFiles };
}
