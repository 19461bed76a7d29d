// `prune` survives a lost device: the job (src/jobs/prune.ts) asks the CLI for a new runtime and
// continues from the last finished block. FISTAPruner's blocks see the dense model's inputs, so the
// continued run must write the same weights as an uninterrupted one, bit for bit.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { randomTensors, tinyConfig } from '../model/testModels';
import { jsonOf, runCommand, tensorsOf, writeModelFolder } from './testing';

// The runtimes the CLI makes, and a switch that destroys the device once the first block is done.
const state = vi.hoisted(() => ({ made: [] as GpuRuntime[], loseAfterFirstBlock: false }));

vi.mock('../host/nodeGpu', async (importOriginal) =>
  (await import('../host/testing')).recordingNodeGpu(await importOriginal(), state.made),
);

vi.mock('../prune/job', async (importOriginal) => {
  const original = await importOriginal<typeof import('../prune/job')>();
  return {
    ...original,
    pruneModel: (input: Parameters<typeof original.pruneModel>[0]) =>
      original.pruneModel({
        ...input,
        emit: (event) => {
          input.emit?.(event);
          if (state.loseAfterFirstBlock && event.type === 'block-finished') {
            state.loseAfterFirstBlock = false;
            input.rt.device.destroy();
          }
        },
      }),
  };
});

const config = tinyConfig('llama', { layers: 3, vocabSize: 512 });
let dir: string;
let model: string;

const pruneArgs = (out: string) => [
  'prune',
  '--model',
  model,
  '--calibration',
  'tinystories',
  '--calibration-windows',
  '2',
  '--calibration-length',
  '8',
  '--iterations',
  '2',
  '--rounds',
  '2',
  '--eval',
  'none',
  '--out',
  out,
  '--json',
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prune-resume-test-'));
  model = join(dir, 'tiny');
  await writeModelFolder(model, config, randomTensors(config, 11));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('prune after a lost device', () => {
  it('continues on a new device from the last finished block and writes the same weights', async () => {
    const whole = await runCommand(...pruneArgs(join(dir, 'whole')));
    expect(whole.code, whole.stderr).toBe(0);
    expect(jsonOf(whole).resumes).toBe(0);

    state.made.length = 0;
    state.loseAfterFirstBlock = true;
    const resumed = await runCommand(...pruneArgs(join(dir, 'resumed')));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(state.made).toHaveLength(2);
    expect(state.made[0]?.isLost).toBe(true);
    expect(jsonOf(resumed).resumes).toBe(1);
    expect(resumed.stderr).toMatch(/the GPU device was lost .*; continuing on a new one at block 1/);
    expect((jsonOf(resumed).summary as { blocks: { block: number }[] }).blocks.map((b) => b.block)).toEqual([
      0, 1, 2,
    ]);

    const want = await tensorsOf(join(dir, 'whole'), config);
    const got = await tensorsOf(join(dir, 'resumed'), config);
    for (const [name, w] of want) expect(got.get(name), name).toEqual(w);
  });
});
