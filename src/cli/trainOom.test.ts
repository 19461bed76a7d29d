// `train` out of GPU memory: an allocation of step 3 fails once (after the validation and checkpoint
// of step 2). The job continues from the checkpoint with one arm at a time on the GPU
// (src/jobs/train.ts); the CLI must say so on stderr, finish every step, and report the residency in
// --json. That the degraded steps equal an undegraded run's is src/jobs/trainOom.test.ts's part.

import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { failAllocations } from '../gpu/testing';
import { jsonOf, onTrainingEvents, runCommand, tempFolder } from './testing';

const state = vi.hoisted(() => ({ made: [] as GpuRuntime[], failAtStep: 0 }));

vi.mock('../host/nodeGpu', async (importOriginal) =>
  (await import('../host/testing')).recordingNodeGpu(await importOriginal(), state.made),
);

/** Makes the runtime's next activation allocation fail as out of memory. */
function failNextActivation(rt: GpuRuntime): void {
  failAllocations(rt, 1, (_, category) => category === 'activations');
}

const temp = tempFolder('train-oom-test-');
// The engine's events pass through here first: after step 2's checkpoint, the next activation fails.
onTrainingEvents((event) => {
  if (state.failAtStep > 0 && event.type === 'checkpoint' && event.step === state.failAtStep - 1) {
    state.failAtStep = 0;
    const rt = state.made.at(-1);
    if (rt) failNextActivation(rt);
  }
});

describe('train out of GPU memory', () => {
  it('continues from the checkpoint with one arm at a time, says so, and finishes', async () => {
    state.failAtStep = 3;
    // biome-ignore format: the arguments read as flag and value pairs
    const result = await runCommand(
      'train', '--size', 'nano', '--steps', '4', '--batch', '1', '--seq-len', '16',
      '--val-every', '2', '--val-windows', '2', '--arm', 'adamw', '--arm', 'adafactor',
      '--out', join(temp.dir, 'degraded'), '--json',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(state.failAtStep).toBe(0);
    expect(result.stderr).toMatch(
      /GPU out of memory while allocating .*injected by the test; continuing from step 2 with one arm at a time on the GPU/,
    );
    const out = jsonOf(result) as unknown as {
      residency: string;
      series: Record<string, { loss: number[] }>;
    };
    expect(out.residency).toBe('one-at-a-time');
    // Each step once: the steps after the checkpoint were taken again and replace what they reported.
    for (const arm of ['adamw', 'adafactor']) expect(out.series[arm]?.loss, arm).toHaveLength(4);
  }, 240_000);
});
