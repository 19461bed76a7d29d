import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../model/byteSource';
import { openModel } from '../model/checkpoint';
import { canonicalTensors } from '../model/weights';
import { loadTokenizer } from '../tokenizer';
import type { ArmSummary } from '../train/job';
import { initialWeights, presetConfig } from '../train/modelPresets';
import { type TrainRun, TrainRunStore } from './trainRuns';
import { studioTrainOptions } from './trainTesting';

const config = presetConfig('nano', 'llama', { size: 512, bosId: 1, eosId: 2 });
const tok = readFileSync('public/models/stories260K/tok512.bin');
const tokenizerFile = bytesSource('tok512.bin', new Uint8Array(tok));

const arm = (id: string): ArmSummary => ({
  id,
  label: id,
  optimizer: id,
  lr: 1e-3,
  steps: 4,
  finalTrainLoss: 5,
  finalValidationLoss: 5.1,
  state: { persistent: 8, transient: 0 },
  modelMs: 1,
  optimizerMs: 1,
});

function run(id: string): TrainRun {
  return {
    id,
    createdAt: '2026-01-01T00:00:00.000Z',
    status: 'finished',
    modelName: 'nano Llama (from scratch)',
    dataLabel: 'pasted text',
    trainTokens: 90,
    validationTokens: 10,
    parameters: 1,
    options: studioTrainOptions({
      model: { kind: 'preset', preset: 'nano', family: 'llama' },
      data: { kind: 'user', label: 'pasted text', text: '' },
      seqLen: 8,
      arms: [
        { id: 'adamw', variant: 'adamw', lr: 1e-3 },
        { id: 'adapprox', variant: 'adapprox', lr: 1e-3 },
      ],
    }),
    summary: { status: 'finished', arms: [arm('adamw'), arm('adapprox')], ms: 10 },
    weightsStep: 4,
    exportable: false,
  };
}

describe('training runs kept by the worker', () => {
  it('saves an arm as a model the studio opens again: same config, same weights, the tokenizer beside', async () => {
    const store = new TrainRunStore();
    const adamw = initialWeights(config, 1);
    const adapprox = initialWeights(config, 2);
    store.add(
      run('r1'),
      config,
      new Map([
        ['adamw', adamw],
        ['adapprox', adapprox],
      ]),
      [tokenizerFile],
    );
    const files = await store.exportArm('r1', 'adapprox');
    if (!files) throw new Error('no files');
    expect(files.map((f) => f.name).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'summary.json',
      'tok512.bin',
    ]);

    const opened = await openModel(files.map((f) => bytesSource(f.name, f.data)));
    expect(opened.config).toMatchObject({
      family: 'llama',
      hidden: config.hidden,
      layers: config.layers,
      vocabSize: 512,
      tiedEmbeddings: true,
    });
    for (const t of canonicalTensors(config))
      expect(await opened.weights.read(t.name), t.name).toEqual(adapprox.get(t.name));
    const tokenizer = loadTokenizer(
      await Promise.all(
        opened.otherFiles.map(async (f) => ({ name: f.name, data: await f.read(0, f.size) })),
      ),
      { vocabSize: 512 },
    );
    expect(tokenizer.vocabSize).toBe(512);

    const summary = JSON.parse(new TextDecoder().decode(files.find((f) => f.name === 'summary.json')?.data));
    expect(summary.arm.id).toBe('adapprox');
    expect(summary.options.arms).toEqual([{ id: 'adapprox', variant: 'adapprox', lr: 1e-3 }]);
    expect(await store.exportArm('r1', 'nope')).toBeNull();
  });

  it('holds the newest runs’ weights and keeps every run’s record', async () => {
    const store = new TrainRunStore(2);
    const weights = () => new Map([['adamw', initialWeights(config, 3)]]);
    expect(store.add(run('r1'), config, weights(), []).exportable).toBe(true);
    store.add(run('r2'), config, weights(), []);
    store.add(run('r3'), config, weights(), []);
    expect(store.held()).toEqual(['r2', 'r3']);
    expect(store.hasRun('r1')).toBe(true);
    expect(await store.exportArm('r1', 'adamw')).toBeNull();
    expect(await store.exportArm('r3', 'adamw')).not.toBeNull();
    store.forget('r3');
    expect(store.hasRun('r3')).toBe(false);
    expect(store.held()).toEqual(['r2']);
  });
});
