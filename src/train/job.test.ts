import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freshSeed } from '../kernels/random';
import { referenceNll } from '../model/reference';
import { canonicalTensors } from '../model/weights';
import { parseLlama2cTokenizer } from '../tokenizer/llama2c';
import { splitTokens, tokenizeTrainText } from './data';
import { type ArmSpec, type TrainEvent, TrainingJob, type TrainOptions } from './job';
import { initialWeights, presetConfig } from './modelPresets';
import { sharedRuntime } from './runtimeTesting';

// End to end on the nano preset over the first 40 kB of Tiny Shakespeare (tok512): every optimizer
// lowers the validation loss in a short run, the reported losses agree with the float64 reference
// model on the weights read back, the state bytes in the events are the ledger's, and a NaN stops
// only its own arm.

const tokenizer = parseLlama2cTokenizer(readFileSync('public/models/stories260K/tok512.bin').buffer, 512);
const text = readFileSync('public/data/tinyshakespeare/input.txt', 'utf8').slice(0, 40_000);
const tokens = tokenizeTrainText('tinyshakespeare', text, tokenizer);
const vocab = { size: 512, bosId: 1, eosId: 2 };

const ARMS: ArmSpec[] = [
  { id: 'adamw', label: 'AdamW', optimizer: { kind: 'adamw' }, lr: 3e-3 },
  { id: 'adafactor', label: 'Adafactor', optimizer: { kind: 'adafactor' }, lr: 3e-3 },
  { id: 'came', label: 'CAME', optimizer: { kind: 'came' }, lr: 1e-3 },
  { id: 'adapprox', label: 'Adapprox', optimizer: { kind: 'adapprox' }, lr: 3e-3 },
];

const options = (arms: ArmSpec[], seed: number): TrainOptions => ({
  seqLen: 32,
  batch: 2,
  steps: 16,
  warmupSteps: 2,
  decay: 'cosine',
  validationEvery: 16,
  validationWindows: 4,
  seed,
  arms,
});

describe('training job', () => {
  const gpu = sharedRuntime();

  for (const family of ['gpt2', 'llama'] as const) {
    it(`every optimizer lowers the validation loss of a nano ${family}`, async () => {
      const seed = freshSeed();
      const config = presetConfig('nano', family, vocab);
      const data = splitTokens(tokens, 0.1, 32);
      const job = await TrainingJob.create(
        gpu.rt,
        config,
        initialWeights(config, seed),
        data,
        options(ARMS, seed),
      );
      const events: TrainEvent[] = [];
      try {
        // One family timed on the GPU's clock (off by default on a CPU adapter), one not.
        const gpuTime = family === 'gpt2';
        const summary = await job.run({ emit: (e) => events.push(e), gpuTime });
        expect(summary.status).toBe('finished');
        const validation = (arm: string) =>
          events.flatMap((e) => (e.type === 'validation' && e.arm === arm ? [e.loss] : []));
        for (const arm of ARMS) {
          const [before, after] = validation(arm.id) as [number, number];
          // At initialization the loss is ≈ ln 512 = 6.24; 16 steps bring every arm below it (measured drops: 0.13–0.35 for Adapprox, 0.5–1.4 for the others).
          expect(before, `${arm.id} seed ${seed}`).toBeGreaterThan(6);
          expect(after, `${arm.id} seed ${seed}`).toBeLessThan(before - 0.05);
          const steps = events.flatMap((e) => (e.type === 'step' && e.arm === arm.id ? [e] : []));
          expect(steps).toHaveLength(16);
          const timed = gpuTime && gpu.rt.capability.features['timestamp-query'] === true;
          for (const s of steps) {
            const whole = s.counters;
            const optimizer = s.optimizerCounters;
            // Each window's loss comes back (batch 2); the optimizer's work is part of the step's.
            expect(whole.readbacks, `${arm.id} step ${s.step}`).toBeGreaterThanOrEqual(2);
            expect(whole.dispatches).toBeGreaterThan(optimizer.dispatches);
            expect(optimizer.dispatches).toBeGreaterThan(0);
            for (const key of ['readbacks', 'bytesRead', 'submissions', 'writes'] as const)
              expect(whole[key], key).toBeGreaterThanOrEqual(optimizer[key]);
            expect(whole.wallMs).toBeGreaterThanOrEqual(optimizer.wallMs);
            if (timed) {
              expect(optimizer.gpuMs).toBeGreaterThan(0);
              expect(whole.gpuMs as number).toBeGreaterThanOrEqual(optimizer.gpuMs as number);
            } else expect(whole.gpuMs).toBeNull();
          }
          // The summary's per-step counters are the mean of the steps'.
          const perStep = summary.arms.find((a) => a.id === arm.id)?.countersPerStep;
          const mean = steps.reduce((n, s) => n + s.counters.dispatches, 0) / steps.length;
          expect(perStep?.dispatches).toBeCloseTo(mean, 9);
        }
        expect(gpu.rt.gpuClock()).toBeNull();
        // Adapprox's transient by docs/algorithms/adapprox.md §2's formula (one m×n V plus (m+n)·w sketches, largest over the
        // matrices) against the ledger's measured scratch peak, which adds only the step-wide scalar
        // slots (8 floats per tensor) and the reduction's partial sums.
        const last = events.find((e) => e.type === 'step' && e.arm === 'adapprox' && e.step === 16);
        if (last?.type !== 'step') throw new Error('no last Adapprox step');
        const tensors = canonicalTensors(config).length;
        expect(last.measuredTransient).toBeGreaterThanOrEqual(last.state.transient);
        expect(last.measuredTransient - last.state.transient).toBeLessThanOrEqual(4 * 8 * tensors + 64);
        // The state bytes every arm reports add up to what the ledger holds in 'optimizer'.
        const reported = summary.arms.reduce((s, a) => s + a.state.persistent, 0);
        expect(gpu.rt.ledger.bytesIn('optimizer')).toBe(reported);

        // The last validation loss, recomputed by the float64 reference on the weights read back.
        const weights = await job.weightsOf('adamw');
        let sum = 0;
        let count = 0;
        const validationTokens = Array.from(data.validation);
        for (let w = 0; w < 4; w++) {
          const ids = validationTokens.slice(w * 32, w * 32 + 33);
          const r = referenceNll(config, weights, ids);
          sum += r.sum;
          count += r.count;
        }
        expect(Math.abs(sum / count - (validation('adamw')[1] as number))).toBeLessThan(1e-4);
      } finally {
        job.destroy();
      }
      expect(gpu.rt.ledger.bytesIn('optimizer')).toBe(0);
    }, 300_000);
  }

  it('a NaN gradient stops its own arm, keeps its last good weights, and the others train on', async () => {
    const seed = freshSeed();
    const config = presetConfig('nano', 'gpt2', vocab);
    const data = splitTokens(tokens, 0.1, 32);
    const good = initialWeights(config, seed);
    // One arm starts from weights with a NaN in the final norm's gain: its first loss and every
    // gradient are NaN, so the optimizer refuses the first step.
    const bad = new Map(good);
    const gain = Float32Array.from(good.get('final_norm.weight') as Float32Array);
    gain[3] = Number.NaN;
    bad.set('final_norm.weight', gain);
    const arms: ArmSpec[] = [ARMS[0] as ArmSpec, { ...(ARMS[3] as ArmSpec), id: 'broken' }];
    const job = await TrainingJob.create(gpu.rt, config, (arm) => (arm.id === 'broken' ? bad : good), data, {
      ...options(arms, seed),
      steps: 3,
      validationEvery: 3,
    });
    const events: TrainEvent[] = [];
    try {
      const summary = await job.run({ emit: (e) => events.push(e) });
      expect(summary.status).toBe('finished');
      expect(summary.arms[0]?.steps).toBe(3);
      expect(summary.arms[0]?.stopped).toBeUndefined();
      expect(summary.arms[1]?.steps).toBe(0);
      expect(summary.arms[1]?.stopped).toMatch(
        /stopped at step 1: Adapprox: the gradient of .* is not finite/,
      );
      expect(events.filter((e) => e.type === 'arm-stopped')).toHaveLength(1);
      expect(events.some((e) => e.type === 'step' && e.arm === 'broken')).toBe(false);
      // The refused step changed nothing: the broken arm still holds exactly its starting weights.
      const kept = await job.weightsOf('broken');
      for (const [name, w] of bad)
        expect(Array.from(kept.get(name) as Float32Array), name).toEqual(Array.from(w));
    } finally {
      job.destroy();
    }
  }, 300_000);

  it("inspects an Adapprox matrix's second moment: exact spectrum against the sketch's errors", async () => {
    const seed = freshSeed();
    const config = presetConfig('nano', 'llama', vocab);
    const data = splitTokens(tokens, 0.1, 32);
    const job = await TrainingJob.create(gpu.rt, config, initialWeights(config, seed), data, {
      ...options([ARMS[3] as ArmSpec], seed),
      steps: 3,
      validationEvery: 3,
    });
    try {
      const matrix = 'layers.1.up.weight';
      const pending = job.inspectSecondMoment('adapprox', matrix);
      await job.run();
      const s = await pending;
      expect(s).toMatchObject({ arm: 'adapprox', matrix, step: 1, rows: config.ffnHidden, cols: 32 });
      expect(s.singularValues).toHaveLength(32);
      for (let i = 1; i < 32; i++)
        expect(s.singularValues[i]).toBeLessThanOrEqual(s.singularValues[i - 1] as number);
      expect(s.exactErrors[0]).toBeCloseTo(1, 12);
      expect(s.exactErrors[32]).toBeLessThan(1e-6);
      // The best rank-j approximation (Eckart–Young) is never worse than the sketch's rank-j one, up
      // to f32 rounding of V and of the GPU's ‖V‖².
      for (let j = 0; j < s.sketchErrors.length; j++) {
        expect(s.exactErrors[j] as number, `rank ${j} seed ${seed}`).toBeLessThanOrEqual(
          (s.sketchErrors[j] as number) + 1e-4,
        );
      }
      expect(s.rank).toBeGreaterThanOrEqual(1);
      expect(s.errorTarget).toBe(0.03);
      await expect(job.inspectSecondMoment('nope', matrix)).rejects.toThrow(/not an Adapprox arm/);
    } finally {
      job.destroy();
    }
  }, 300_000);

  it('refuses a batch larger than the data and a learning rate out of range', async () => {
    const config = presetConfig('nano', 'gpt2', vocab);
    const data = splitTokens(tokens.slice(0, 400), 0.2, 32);
    const start = initialWeights(config, 1);
    await expect(
      TrainingJob.create(gpu.rt, config, start, data, { ...options(ARMS, 1), batch: 20 }),
    ).rejects.toThrow(/a batch of 20 windows × 32 tokens \(640\) is larger than the 320 training tokens/);
    await expect(
      TrainingJob.create(gpu.rt, config, start, data, options([{ ...(ARMS[0] as ArmSpec), lr: 2 }], 1)),
    ).rejects.toThrow(/learning rate must lie in \(0, 1\]/);
    await expect(
      TrainingJob.create(gpu.rt, config, start, data, { ...options(ARMS, 1), seqLen: 65 }),
    ).rejects.toThrow(/longer than the model's context of 64/);
    await expect(
      TrainingJob.create(
        gpu.rt,
        config,
        start,
        data,
        options(
          [{ ...(ARMS[3] as ArmSpec), optimizer: { kind: 'adapprox', options: { kMin: 40, kMax: 40 } } }],
          1,
        ),
      ),
    ).rejects.toThrow(/needs integer ranks 1 ≤ k_min ≤ k0 ≤ k_max ≤ min\(m, n\) = 32, got k_min = 40/);
    expect(gpu.rt.ledger.bytesIn('weights')).toBe(0);
  });
});
