import { describe, expect, it } from 'vitest';
import { zeroWork } from '../gpu/meter';
import type { SecondMomentSpectrum, TrainEvent } from '../train/job';
import { type InspectableJob, TrainControl } from './trainControl';

/** A job whose inspections resolve when the test says so, like the engine's at the arm's next step. */
function fakeJob() {
  const requests: { arm: string; matrix: string; resolve: (s: SecondMomentSpectrum) => void }[] = [];
  const job: InspectableJob = {
    inspectSecondMoment: (arm, matrix) => new Promise((resolve) => requests.push({ arm, matrix, resolve })),
  };
  return { job, requests };
}

const spectrum = (matrix: string): SecondMomentSpectrum => ({
  arm: 'adapprox',
  matrix,
  step: 2,
  rows: 32,
  cols: 128,
  singularValues: [3, 1],
  exactErrors: [1, 0.3, 0],
  sketchErrors: [1, 0.31],
  rank: 1,
  errorTarget: 0.03,
});

const stepWithRanks: TrainEvent = {
  type: 'step',
  arm: 'adapprox',
  step: 1,
  loss: 6,
  lr: 1e-3,
  tokensPerSecond: 1,
  modelMs: 1,
  optimizerMs: 1,
  state: { persistent: 4, transient: 0 },
  measuredTransient: 0,
  counters: zeroWork(),
  optimizerCounters: zeroWork(),
  ranks: [{ name: 'layers.0.up.weight', rank: 2, relativeError: 0.1, clampedFraction: 0 }],
};

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('training run control', () => {
  it('holds the run between steps while paused, and lets a cancel through', async () => {
    const control = new TrainControl();
    const signal = new AbortController();
    const told: boolean[] = [];
    const gate = control.gate(signal.signal, (paused) => told.push(paused));
    await gate(); // not paused: at once
    expect(told).toEqual([]);

    control.setPaused(true);
    let through = false;
    const held = gate().then(() => {
      through = true;
    });
    await tick();
    expect(through).toBe(false);
    expect(told).toEqual([true]);
    control.setPaused(false);
    await held;
    expect(told).toEqual([true, false]);

    control.setPaused(true);
    const cancelled = gate();
    await tick();
    signal.abort();
    await cancelled;
    // A cancel ends the pause without saying the run goes on.
    expect(told).toEqual([true, false, true]);
  });

  it('answers an inspection at the arm’s next step, and only for a factored matrix of a running arm', async () => {
    const control = new TrainControl();
    expect(await control.inspect('adapprox', 'layers.0.up.weight')).toMatchObject({
      ok: false,
      message: 'No run has started yet.',
    });
    const { job, requests } = fakeJob();
    control.attach(job);
    expect(await control.inspect('adamw', 'layers.0.up.weight')).toMatchObject({
      ok: false,
      kind: 'range',
      message: expect.stringContaining('not an Adapprox arm of this run'),
    });
    control.observe(stepWithRanks);
    expect(await control.inspect('adapprox', 'layers.0.attn_norm.weight')).toMatchObject({
      ok: false,
      message: expect.stringContaining('choose one of layers.0.up.weight'),
    });

    const answer = control.inspect('adapprox', 'layers.0.up.weight');
    expect(requests).toHaveLength(1);
    requests[0]?.resolve(spectrum('layers.0.up.weight'));
    expect(await answer).toEqual({ ok: true, spectrum: spectrum('layers.0.up.weight') });
  });

  it('answers every request: replaced, stopped arm, run ended', async () => {
    const control = new TrainControl();
    const { job, requests } = fakeJob();
    control.attach(job);
    control.observe(stepWithRanks);

    const first = control.inspect('adapprox', 'layers.0.up.weight');
    const second = control.inspect('adapprox', 'layers.0.up.weight');
    expect(await first).toMatchObject({
      ok: false,
      message: 'A newer inspection request replaced this one.',
    });
    // The engine's answer to the replaced request, arriving late, goes nowhere.
    requests[0]?.resolve(spectrum('old'));
    requests[1]?.resolve(spectrum('layers.0.up.weight'));
    expect(await second).toMatchObject({ ok: true, spectrum: { matrix: 'layers.0.up.weight' } });

    const third = control.inspect('adapprox', 'layers.0.up.weight');
    control.observe({ type: 'arm-stopped', arm: 'adapprox', step: 3, message: 'NaN gradient' });
    expect(await third).toMatchObject({
      ok: false,
      message: expect.stringContaining('stopped (NaN gradient)'),
    });
    expect(await control.inspect('adapprox', 'layers.0.up.weight')).toMatchObject({ ok: false });

    const other = new TrainControl();
    other.attach(fakeJob().job);
    other.observe(stepWithRanks);
    const pending = other.inspect('adapprox', 'layers.0.up.weight');
    other.close('The run has ended.');
    expect(await pending).toMatchObject({ ok: false, message: 'The run has ended.' });
    expect(await other.inspect('adapprox', 'layers.0.up.weight')).toMatchObject({
      message: 'The run has ended.',
    });
  });
});
