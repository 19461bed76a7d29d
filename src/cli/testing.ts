// For the CLI's tests: a command line run in this process, as bin/compression-studio.js runs it,
// with what it prints on stdout and stderr captured and its exit code returned. Building the bundle
// and starting a process per command would cost more than most commands do on a CPU adapter.

import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, vi } from 'vitest';
import { folderSources } from '../host/nodeFiles';
import { projectRoot } from '../host/projectRoot';
import { openModel } from '../model/checkpoint';
import type { ModelConfig } from '../model/config';
import { exportHfModel } from '../model/export';
import { randomTensors } from '../model/testModels';
import { canonicalTensors, memoryWeightSource } from '../model/weights';
import { type TrainEvent, TrainingJob } from '../train/job';
import { runCli } from './program';

export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCommand(...args: string[]): Promise<CommandRun> {
  let stdout = '';
  let stderr = '';
  const capture = (stream: NodeJS.WriteStream, append: (text: string) => void) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      append(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk));
      return true;
    });
  const out = capture(process.stdout, (t) => {
    stdout += t;
  });
  const err = capture(process.stderr, (t) => {
    stderr += t;
  });
  try {
    const code = await runCli(['node', 'compression-studio', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The one JSON object a --json run printed; fails when stdout holds anything else. */
export function jsonOf(run: CommandRun): Record<string, unknown> {
  const lines = run.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1)
    throw new Error(`expected one JSON line on stdout, got ${lines.length}:\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(lines[0] as string) as Record<string, unknown>;
}

/** A Hugging Face folder of the given weights with the built-in 512-token tokenizer, for --model. */
export async function writeModelFolder(
  folder: string,
  config: ModelConfig,
  tensors: Map<string, Float32Array>,
): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (const f of await exportHfModel(memoryWeightSource(config, tensors, 'tiny')))
    await writeFile(join(folder, f.name), f.data);
  await cp(join(projectRoot(), 'public/models/stories260K/tok512.bin'), join(folder, 'tok512.bin'));
}

/** Every tensor of the model in `folder`, in the engine's naming, as f32. */
export async function tensorsOf(folder: string, config: ModelConfig): Promise<Map<string, Float32Array>> {
  const opened = await openModel(await folderSources(folder));
  const out = new Map<string, Float32Array>();
  for (const t of canonicalTensors(config)) out.set(t.name, await opened.weights.read(t.name));
  return out;
}

/**
 * A test file's temporary folder, made (and filled, when `fill` is given) before its tests and
 * removed after them. `dir` is set once the folder exists.
 */
export function tempFolder(prefix: string, fill?: (dir: string) => Promise<void>): { dir: string } {
  const temp = { dir: '' };
  beforeAll(async () => {
    temp.dir = await mkdtemp(join(tmpdir(), prefix));
    await fill?.(temp.dir);
  });
  afterAll(async () => {
    await rm(temp.dir, { recursive: true, force: true });
  });
  return temp;
}

/**
 * A temporary folder (tempFolder) with a model folder `tiny` in it (writeModelFolder, random
 * weights drawn from `seed`). `dir` and `model` are set once the folder exists.
 */
export function tinyModelInTemp(
  prefix: string,
  config: ModelConfig,
  seed: number,
): { readonly dir: string; readonly model: string } {
  const temp = tempFolder(prefix, (dir) =>
    writeModelFolder(join(dir, 'tiny'), config, randomTensors(config, seed)),
  );
  return {
    get dir() {
      return temp.dir;
    },
    get model() {
      return join(temp.dir, 'tiny');
    },
  };
}

/**
 * Lets a test file act on the training engine's events as they pass, before the CLI sees them (to
 * destroy the device or fail an allocation at a chosen step), for its tests; undone after them.
 */
export function onTrainingEvents(act: (event: TrainEvent) => void): void {
  const run = TrainingJob.prototype.run;
  beforeAll(() => {
    TrainingJob.prototype.run = function (hooks = {}) {
      return run.call(this, {
        ...hooks,
        emit: (event) => {
          hooks.emit?.(event);
          act(event);
        },
      });
    };
  });
  afterAll(() => {
    TrainingJob.prototype.run = run;
  });
}

/** The least calibration a test's pruning run takes: two windows of 8 tokens of TinyStories. */
export const SMALL_CALIBRATION = [
  '--calibration',
  'tinystories',
  '--calibration-windows',
  '2',
  '--calibration-length',
  '8',
];

/** FISTAPruner at its cheapest for a test: two λ rounds of two iterations. */
export const SHORT_FISTA = ['--iterations', '2', '--rounds', '2'];
