// `eval` survives a lost device: the job (src/jobs/eval.ts) asks the CLI for a new runtime, uploads
// the model there and continues from the first window not yet scored. The perplexity and every
// window's must be an uninterrupted run's bit for bit, and --json counts the loss in `resumes`.

import { describe, expect, it, vi } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { tinyConfig } from '../model/testModels';
import { jsonOf, runCommand, tinyModelInTemp } from './testing';

// The runtimes the CLI makes, and a switch that destroys the device once the second window is scored.
const state = vi.hoisted(() => ({ made: [] as GpuRuntime[], loseAfterSecondWindow: false }));

vi.mock('../host/nodeGpu', async (importOriginal) =>
  (await import('../host/testing')).recordingNodeGpu(await importOriginal(), state.made),
);

vi.mock('../model/evaluate', async (importOriginal) => {
  const original = await importOriginal<typeof import('../model/evaluate')>();
  return {
    ...original,
    evaluatePerplexity: (...[model, tokens, options]: Parameters<typeof original.evaluatePerplexity>) =>
      original.evaluatePerplexity(model, tokens, {
        ...options,
        // One window a pass in both runs, so the loss falls between windows.
        passBytes: 0,
        onWindow: (progress) => {
          options.onWindow?.(progress);
          if (state.loseAfterSecondWindow && progress.done === 2) {
            state.loseAfterSecondWindow = false;
            model.rt.device.destroy();
          }
        },
      }),
  };
});

const config = tinyConfig('llama', { layers: 2, vocabSize: 512 });
const temp = tinyModelInTemp('eval-resume-test-', config, 5);

const evalArgs = () => ['eval', '--model', temp.model, '--text', 'tinystories', '--windows', '6', '--json'];

describe('eval after a lost device', () => {
  it('continues on a new device from the first unscored window, with the same perplexity bit for bit', async () => {
    state.made.length = 0;
    const whole = await runCommand(...evalArgs());
    expect(whole.code, whole.stderr).toBe(0);
    expect(jsonOf(whole).resumes).toBe(0);
    expect(state.made).toHaveLength(1);

    state.made.length = 0;
    state.loseAfterSecondWindow = true;
    const resumed = await runCommand(...evalArgs());
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(state.made).toHaveLength(2);
    expect(state.made[0]?.isLost).toBe(true);
    expect(resumed.stderr).toMatch(/the GPU device was lost .*; continuing on a new one after window 2/);
    const out = jsonOf(resumed);
    expect(out.resumes).toBe(1);
    expect(out.windows).toBe(6);
    expect(out.windowPpl).toEqual(jsonOf(whole).windowPpl);
    expect(out.ppl).toBe(jsonOf(whole).ppl);
  });
});
