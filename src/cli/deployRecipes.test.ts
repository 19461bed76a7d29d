// The cluster recipes under deploy/ run here as a cluster would run them: each shard's own shell
// command once per index, with the index variable set as the scheduler sets it (Kubernetes'
// JOB_COMPLETION_INDEX, 0 … completions−1; Slurm's SLURM_ARRAY_TASK_ID over the --array range), then
// the recipe's merge command. The merged model must equal a whole-model run byte for byte.
//
// The shell runs each command with a stand-in `npx` first on PATH that records its arguments; the
// recorded command line then runs in this process (runCommand), as bin/compression-studio.js would
// run it, so no bundle is built and no process is started per command. Only the run's settings
// (model, output folder, options small enough for a CPU adapter) differ from the shipped recipes.

import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../host/projectRoot';
import { randomTensors, tinyConfig } from '../model/testModels';
import { runCommand, writeModelFolder } from './testing';

const config = tinyConfig('llama', { layers: 3, vocabSize: 512 });
// Magnitude pruning keeps the runs cheap: what is tested is the recipes' plumbing (indices, folders,
// merge); shards.test.ts shows that FISTAPruner's shards merge to the whole run bit for bit too.
const options =
  '--method magnitude --pattern 2:4 --calibration tinystories --calibration-windows 1 --calibration-length 8';
const root = projectRoot();
let dir: string;
let model: string;
let capture: string;
let wholeWeights: Buffer;

/** Runs a shell command line with the stand-in npx; returns the CLI arguments it was called with. */
async function recordedCommand(
  shell: string,
  args: string[],
  env: Record<string, string>,
): Promise<string[]> {
  const run = spawnSync(shell, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, CAPTURE: capture },
  });
  if (run.status !== 0) throw new Error(`${shell} ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return (await readFile(capture, 'utf8')).split('\0').slice(0, -1);
}

/** Runs the recorded `npx compression-studio …` line in this process; fails on a non-zero exit. */
async function runRecorded(argv: string[]): Promise<void> {
  expect(argv[0]).toBe('compression-studio');
  const run = await runCommand(...argv.slice(1));
  expect(run.code, `${argv.join(' ')}\n${run.stderr}`).toBe(0);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deploy-recipes-'));
  model = join(dir, 'model');
  capture = join(dir, 'argv');
  await writeModelFolder(model, config, randomTensors(config, 11));
  await mkdir(join(dir, 'bin'));
  const npx = join(dir, 'bin', 'npx');
  await writeFile(npx, '#!/bin/sh\nprintf \'%s\\0\' "$@" > "$CAPTURE"\n');
  await chmod(npx, 0o755);
  const whole = join(dir, 'whole');
  const run = await runCommand(
    'prune',
    '--model',
    model,
    ...options.split(' '),
    '--eval',
    'none',
    '--out',
    whole,
  );
  expect(run.code, run.stderr).toBe(0);
  wholeWeights = await readFile(join(whole, 'model.safetensors'));
}, 300_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('deploy recipes', () => {
  it('Kubernetes: the Indexed Job once per completion index, then the merge Job, equal the whole run', async () => {
    const docs = parseAllDocuments(await readFile(join(root, 'deploy/kubernetes/prune.yaml'), 'utf8')).map(
      (d) => d.toJSON(),
    );
    const settings = docs.find((d) => d.kind === 'ConfigMap').data as Record<string, string>;
    const job = (name: string) => docs.find((d) => d.kind === 'Job' && d.metadata.name === name);
    const shards = job('cs-prune-shards');
    expect(shards.spec.completionMode).toBe('Indexed');
    // The pods must cover every shard: as many completions (and pods at once) as SHARDS.
    expect(shards.spec.completions).toBe(Number(settings.SHARDS));
    expect(shards.spec.parallelism).toBe(Number(settings.SHARDS));
    const runDir = join(dir, 'k8s-run');
    const env = { ...settings, MODEL_DIR: model, RUN_DIR: runDir, PRUNE_OPTIONS: options };
    const commandOf = (name: string) => {
      const container = job(name).spec.template.spec.containers[0];
      expect(container.envFrom[0].configMapRef.name).toBe('cs-prune-settings');
      return [...container.command.slice(1), ...container.args] as string[];
    };
    for (let index = 0; index < shards.spec.completions; index++)
      await runRecorded(
        await recordedCommand('sh', commandOf('cs-prune-shards'), {
          ...env,
          JOB_COMPLETION_INDEX: `${index}`,
        }),
      );
    await runRecorded(await recordedCommand('sh', commandOf('cs-prune-merge'), env));
    expect((await readFile(join(runDir, 'merged', 'model.safetensors'))).equals(wholeWeights)).toBe(true);
  }, 300_000);

  it('Slurm: the array script once per task id, then the merge script, equal the whole run', async () => {
    const script = await readFile(join(root, 'deploy/slurm/prune-shards.sbatch'), 'utf8');
    const range = /^#SBATCH --array=(\d+)-(\d+)$/m.exec(script);
    const [first, last] = [Number(range?.[1]), Number(range?.[2])];
    // submit.sh passes --array=1-$SHARDS; the script's own default must agree with the settings.
    const settings = spawnSync('bash', ['-c', 'source deploy/slurm/settings.sh && echo "$SHARDS"'], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect([first, last]).toEqual([1, Number(settings.stdout.trim())]);
    const runDir = join(dir, 'slurm-run');
    const env = { MODEL_DIR: model, RUN_DIR: runDir, PRUNE_OPTIONS: options, SLURM_SUBMIT_DIR: root };
    for (let task = first; task <= last; task++)
      await runRecorded(
        await recordedCommand('bash', ['deploy/slurm/prune-shards.sbatch'], {
          ...env,
          SLURM_ARRAY_TASK_ID: `${task}`,
        }),
      );
    await runRecorded(await recordedCommand('bash', ['deploy/slurm/merge.sbatch'], env));
    expect((await readFile(join(runDir, 'merged', 'model.safetensors'))).equals(wholeWeights)).toBe(true);
  }, 300_000);
});
