import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { folderSources } from '../host/nodeFiles';
import { projectRoot } from '../host/projectRoot';
import { openModel } from '../model/checkpoint';
import { referenceNll } from '../model/reference';
import { canonicalTensors } from '../model/weights';
import { parseRunRecord } from '../run/record';
import { parseLlama2cTokenizer } from '../tokenizer/llama2c';
import { DEFAULT_LR } from '../train/armSpec';
import { splitTokens, tokenizeTrainText } from '../train/data';
import type { TrainOptions, TrainSummary } from '../train/job';
import { jsonOf, runCommand } from './testing';
import { parseArm } from './train';

describe('train command arguments', () => {
  it('reads an arm as kind[@lr][:key=value,…]', () => {
    expect(parseArm('adamw')).toEqual({
      id: 'adamw',
      label: 'adamw',
      lr: DEFAULT_LR.adamw,
      optimizer: { kind: 'adamw', options: {} },
    });
    expect(parseArm('adapprox@1e-2:beta1=0,kmin=1,kmax=1,guidance=half').optimizer).toEqual({
      kind: 'adapprox',
      options: { beta1: 0, kMin: 1, kMax: 1, guidance: 'half' },
    });
    expect(parseArm('came@3e-4').lr).toBe(3e-4);
    // The cold start (a fresh Gaussian sketch, l = 5) is one setting away from the warm default.
    expect(parseArm('adapprox:warm=off').optimizer).toEqual({
      kind: 'adapprox',
      options: { warmStart: false },
    });
    expect(parseArm('adapprox:warm=on').optimizer).toEqual({
      kind: 'adapprox',
      options: { warmStart: true },
    });
    expect(() => parseArm('adapprox:warm=0')).toThrow(/warm must be one of on, off/);
  });

  it('puts β1 and β2 of AdamW and CAME into their betas, the other β at its default', () => {
    expect(parseArm('adamw:beta1=0.5').optimizer).toEqual({
      kind: 'adamw',
      options: { betas: [0.5, 0.999] },
    });
    expect(parseArm('came:beta2=0.99,wd=0.01').optimizer).toEqual({
      kind: 'came',
      options: { betas: [0.9, 0.99, 0.9999], weightDecay: 0.01 },
    });
    expect(parseArm('adafactor:beta1=0.9').optimizer).toEqual({ kind: 'adafactor', options: { beta1: 0.9 } });
  });

  it('refuses a bad arm as a usage error (armSpec.test.ts has the cases)', () => {
    expect(() => parseArm('sgd')).toThrow(InvalidArgumentError);
    expect(() => parseArm('adamw:kmin=2')).toThrow(InvalidArgumentError);
  });
});

describe('train command', () => {
  it('trains two arms, saves them, and its --json and record match the saved models', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-train-'));
    try {
      const run = await runCommand(
        'train',
        '--size',
        'nano',
        '--steps',
        '3',
        '--batch',
        '1',
        '--seq-len',
        '16',
        '--val-windows',
        '2',
        '--arm',
        'adamw',
        '--arm',
        'adapprox:beta1=0',
        '--out',
        join(dir, 'out'),
        '--record',
        join(dir, 'r.json'),
        '--json',
      );
      expect(run.code, run.stderr).toBe(0);
      const out = jsonOf(run) as { summary: TrainSummary; options: TrainOptions; record: unknown };
      const record = parseRunRecord(JSON.parse(await readFile(join(dir, 'r.json'), 'utf8')));
      expect(record).toEqual(parseRunRecord(out.record));
      expect(record.kind).toBe('train');
      expect(record.data[0]?.sha256).toBe(
        createHash('sha256')
          .update(await readFile(join(projectRoot(), 'public/data/tinyshakespeare/input.txt')))
          .digest('hex'),
      );
      expect(record.model.parameters).toBe(43_904);
      // Each saved arm's final validation loss, recomputed by the float64 reference from its files.
      const text = await readFile(join(projectRoot(), 'public/data/tinyshakespeare/input.txt'), 'utf8');
      const tokenizer = parseLlama2cTokenizer(
        (await readFile(join(projectRoot(), 'public/models/stories260K/tok512.bin'))).buffer as ArrayBuffer,
        512,
      );
      const validation = splitTokens(
        tokenizeTrainText('tinyshakespeare', text, tokenizer),
        0.1,
        16,
      ).validation;
      for (const arm of out.summary.arms) {
        const opened = await openModel(
          await folderSources(join(dir, 'out', arm.id.replace(/[^A-Za-z0-9._=-]+/g, '_'))),
        );
        const weights = new Map<string, Float32Array>();
        for (const t of canonicalTensors(opened.config))
          weights.set(t.name, await opened.weights.read(t.name));
        let sum = 0;
        let count = 0;
        for (let w = 0; w < 2; w++) {
          const r = referenceNll(
            opened.config,
            weights,
            Array.from(validation.subarray(w * 16, w * 16 + 17)),
          );
          sum += r.sum;
          count += r.count;
        }
        expect(Math.abs(sum / count - (arm.finalValidationLoss as number)), arm.id).toBeLessThan(1e-4);
        expect(record.results[`validation/${arm.id}`]).toBe(arm.finalValidationLoss);
        // Per step: at least the window's loss comes back; the optimizer's work is part of the step's.
        const perStep = arm.countersPerStep;
        const optimizer = arm.optimizerCountersPerStep;
        expect(perStep?.readbacks, arm.id).toBeGreaterThanOrEqual(1);
        expect(optimizer?.dispatches, arm.id).toBeGreaterThan(0);
        expect(perStep?.dispatches).toBeGreaterThan(optimizer?.dispatches ?? Number.POSITIVE_INFINITY);
        expect(record.results[`readbacksPerStep/${arm.id}`]).toBe(perStep?.readbacks);
        expect(record.results[`optimizerDispatchesPerStep/${arm.id}`]).toBe(optimizer?.dispatches);
        const steps = (out as unknown as { series: Record<string, { counters: unknown[] }> }).series[arm.id];
        expect(steps?.counters).toHaveLength(3);
        expect(record.metrics.find((m) => m.name === `loss/${arm.id}`)?.y).toHaveLength(3);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
