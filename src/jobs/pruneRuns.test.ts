import { describe, expect, it } from 'vitest';
import { randomTensors, tinyConfig } from '../model/testModels';
import { memoryWeightSource } from '../model/weights';
import type { PruneSummary } from '../prune/events';
import { PAPER_FISTA, PAPER_SPARSEGPT } from '../prune/options';
import { type PruneRun, PruneRunStore, packMask } from './pruneRuns';

const bit = (bits: Uint8Array, i: number) => ((bits[i >> 3] ?? 0) >> (i & 7)) & 1;

describe('packing masks', () => {
  it('sets bit i, LSB first, for every non-zero entry, with zero padding', () => {
    for (const [rows, cols] of [
      [1, 1],
      [3, 5],
      [7, 13],
      [4, 16],
    ] as const) {
      const data = Float32Array.from({ length: rows * cols }, (_, i) => ((i * 7919) % 3 === 0 ? 0 : i - 0.5));
      const { bits } = packMask(data, rows, cols);
      expect(bits.length).toBe(Math.ceil((rows * cols) / 8));
      for (let i = 0; i < data.length; i++)
        expect(bit(bits, i), `${rows}×${cols} entry ${i}`).toBe(data[i] !== 0 ? 1 : 0);
      for (let i = data.length; i < bits.length * 8; i++) expect(bit(bits, i)).toBe(0);
    }
    // -0 is a zero weight too.
    expect(packMask(Float32Array.of(-0, 1), 1, 2).bits[0]).toBe(2);
    expect(() => packMask(new Float32Array(5), 2, 3)).toThrow(RangeError);
  });
});

describe('the store of finished runs', () => {
  const c = tinyConfig('llama', { layers: 1 });
  const tensors = randomTensors(c, 5);
  const source = memoryWeightSource(c, tensors, 'tiny');
  const q = 'layers.0.q.weight';
  const qData = (tensors.get(q) as Float32Array).map((v, i) => (i % 2 ? v : 0));

  function run(id: string): PruneRun {
    const summary: PruneSummary = {
      method: 'magnitude',
      options: {
        method: 'magnitude',
        pattern: { kind: 'nm', n: 2, m: 4 },
        calibration: { source: { kind: 'c4' }, windows: 1, seqLen: 4, seed: 0 },
        fista: PAPER_FISTA,
        sparsegpt: PAPER_SPARSEGPT,
        blockInputs: 'pruned',
      },
      blocks: [
        {
          block: 0,
          ms: 1,
          matrices: [
            {
              tensor: q,
              block: 0,
              operator: 'q',
              rows: 12,
              cols: 12,
              sparsity: 0.5,
              error: 1,
              relativeError: 0.1,
              ms: 1,
            },
          ],
        },
      ],
      sparsity: 0.5,
      calibrationTokens: 4,
      ms: 1,
    };
    return {
      id,
      createdAt: '2026-01-01T00:00:00.000Z',
      modelName: 'tiny',
      summary,
      pplBefore: 3,
      pplAfter: 4,
      evalText: 'tinystories',
      seqLen: 8,
      windows: 2,
      calibrationLabel: 'C4',
      resumes: 0,
      totalMs: 10,
      exportable: true,
    };
  }

  it('keeps every mask, and the weights of the newest runs only', async () => {
    const store = new PruneRunStore(2);
    const tokenizer = {
      name: 'folder/tok512.bin',
      size: 3,
      read: async () => new Uint8Array([1, 2, 3]).buffer,
    };
    // Runs whose tensors were kept on disk: their files go when the tensors are dropped or the run forgotten.
    const removed: string[] = [];
    const onDisk = (id: string) => ({ remove: async () => void removed.push(id) });
    for (const id of ['a', 'b', 'c'])
      await store.add(run(id), new Map([[q, qData]]), source, [tokenizer], onDisk(id));
    expect(removed).toEqual(['a']);
    expect(store.list().map((r) => [r.id, r.exportable])).toEqual([
      ['a', false],
      ['b', true],
      ['c', true],
    ]);
    expect(store.mask('a', q)?.rows).toBe(12);
    expect(await store.exportFiles('a')).toBeNull();
    const files = await store.exportFiles('c');
    expect(files?.map((f) => f.name)).toEqual([
      'model.safetensors',
      'config.json',
      'tok512.bin',
      'summary.json',
    ]);
    const summary = JSON.parse(new TextDecoder().decode(files?.at(-1)?.data));
    expect(summary.matrices).toEqual([
      { tensor: q, rows: 12, cols: 12, sparsity: 0.5, error: 1, relativeError: 0.1 },
    ]);
    expect(summary.perplexity).toMatchObject({ before: 3, after: 4, windows: 2 });
    await store.forget('c');
    expect(removed).toEqual(['a', 'c']);
    await store.forget('a');
    expect(removed).toEqual(['a', 'c']);
    expect(store.hasRun('c')).toBe(false);
    expect(store.mask('c', q)).toBeUndefined();
  });
});
