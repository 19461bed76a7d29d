// `prune` survives a lost device: the job (src/jobs/prune.ts) asks the CLI for a new runtime and
// continues from the last finished block. FISTAPruner's blocks see the dense model's inputs, so the
// continued run must write the same weights as an uninterrupted one, bit for bit.

import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { tinyConfig } from '../model/testModels';
import { jsonOf, runCommand, SHORT_FISTA, SMALL_CALIBRATION, tensorsOf, tinyModelInTemp } from './testing';

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
const temp = tinyModelInTemp('prune-resume-test-', config, 11);

const pruneArgs = (out: string) => [
  'prune',
  '--model',
  temp.model,
  ...SMALL_CALIBRATION,
  ...SHORT_FISTA,
  '--eval',
  'none',
  '--out',
  out,
  '--json',
];

describe('prune after a lost device', () => {
  it('continues on a new device from the last finished block and writes the same weights', async () => {
    const whole = await runCommand(...pruneArgs(join(temp.dir, 'whole')));
    expect(whole.code, whole.stderr).toBe(0);
    expect(jsonOf(whole).resumes).toBe(0);

    state.made.length = 0;
    state.loseAfterFirstBlock = true;
    const resumed = await runCommand(...pruneArgs(join(temp.dir, 'resumed')));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(state.made).toHaveLength(2);
    expect(state.made[0]?.isLost).toBe(true);
    expect(jsonOf(resumed).resumes).toBe(1);
    expect(resumed.stderr).toMatch(/the GPU device was lost .*; continuing on a new one at block 1/);
    expect((jsonOf(resumed).summary as { blocks: { block: number }[] }).blocks.map((b) => b.block)).toEqual([
      0, 1, 2,
    ]);

    const want = await tensorsOf(join(temp.dir, 'whole'), config);
    const got = await tensorsOf(join(temp.dir, 'resumed'), config);
    for (const [name, w] of want) expect(got.get(name), name).toEqual(w);
  });
});
