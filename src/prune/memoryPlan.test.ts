import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BufferCategory } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { freshSeed, Random } from '../kernels/random';
import type { ModelConfig } from '../model/config';
import { randomTensors, tinyConfig } from '../model/testModels';
import { memoryWeightSource } from '../model/weights';
import { defaultPruneOptions, pruneModel } from './job';
import { pruneMemoryPlan } from './memoryPlan';
import type { PruneMethod, PruneOptions, SparsityPattern } from './options';

// The plan against the ledger's own peak over a real run: the categories whose buffers grow with a
// matrix or a pass (weights, statistics, activations) and the staging pool exactly, scratch from
// below (the plan leaves out reductions' partials and other vector-sized buffers), and the overall
// peak from below and within 1 % (measured: 0.01–0.05 % over, uniforms and partials, at these widths).
// At 3 windows (48 tokens) every baseline group measures through its kept inputs (tokenForm.ts);
// at 12 (192 tokens) the 96-wide groups measure through the Gram and the 260-wide one through the tokens.

const SEQ = 16;
const WINDOWS = 3;
const PER_PASS = 2;

function options(method: PruneMethod, pattern: SparsityPattern, fista: Partial<PruneOptions['fista']> = {}) {
  const o = defaultPruneOptions(method, { context: SEQ, parameters: 1000 });
  return { ...o, pattern, fista: { ...o.fista, iterations: 3, rounds: 1, ...fista } };
}

/** Awkward widths, grouped-query attention for Llama, so no two operator shapes coincide. */
function config(family: ModelConfig['family']): ModelConfig {
  return tinyConfig(family, {
    hidden: 96,
    heads: 4,
    kvHeads: family === 'llama' ? 2 : 4,
    headDim: 24,
    ffnHidden: 260,
    layers: 2,
    maxPositions: 32,
    vocabSize: 53,
  });
}

const CASES: {
  family: ModelConfig['family'];
  label: string;
  options: PruneOptions;
  blocks?: number[];
  windows?: number;
}[] = [
  {
    family: 'llama',
    label: 'magnitude 50 %',
    options: options('magnitude', { kind: 'unstructured', sparsity: 0.5 }),
  },
  { family: 'opt', label: 'Wanda 2:4', options: options('wanda', { kind: 'nm', n: 2, m: 4 }) },
  {
    family: 'llama',
    label: 'Wanda 50 %, 12 windows: both forms',
    options: options('wanda', { kind: 'unstructured', sparsity: 0.5 }),
    windows: 12,
  },
  {
    family: 'llama',
    label: 'SparseGPT 50 %',
    options: options('sparsegpt', { kind: 'unstructured', sparsity: 0.5 }),
  },
  { family: 'opt', label: 'SparseGPT 2:4', options: options('sparsegpt', { kind: 'nm', n: 2, m: 4 }) },
  {
    family: 'llama',
    label: 'FISTAPruner 2:4, corrected, SparseGPT warm start',
    options: options('fista', { kind: 'nm', n: 2, m: 4 }, { warmStart: 'sparsegpt', errorCorrection: true }),
  },
  {
    family: 'opt',
    label: 'FISTAPruner 60 %, uncorrected, Wanda warm start, block 1 only',
    options: options(
      'fista',
      { kind: 'unstructured', sparsity: 0.6 },
      { warmStart: 'wanda', errorCorrection: false },
    ),
    blocks: [1],
  },
];

describe('the pruning memory plan', () => {
  // A fresh runtime each: the staging pool a runtime keeps from earlier reads is part of the peak.
  let rt: GpuRuntime;
  beforeEach(async () => {
    rt = await createNodeRuntime();
  });
  afterEach(() => rt.destroy());

  for (const { family, label, options: o, blocks, windows = WINDOWS } of CASES) {
    it(`matches the ledger's peak: ${family}, ${label}`, async () => {
      const seed = freshSeed();
      const c = config(family);
      const random = new Random(seed);
      const calibration = Array.from({ length: windows }, () =>
        Array.from({ length: SEQ }, () => Math.floor(random.next() * c.vocabSize)),
      );
      const opts = blocks ? { ...o, blocks } : o;
      const plan = pruneMemoryPlan(c, opts, { seqLen: SEQ, windows, perPass: PER_PASS });
      rt.flush();
      const before = rt.ledger.snapshot();
      rt.ledger.resetPeak();
      await pruneModel({
        rt,
        source: memoryWeightSource(c, randomTensors(c, seed), 'tiny'),
        calibration,
        options: opts,
        windowsPerPass: PER_PASS,
        gpuTime: false,
      });
      const grown = (category: BufferCategory) =>
        rt.ledger.peakIn(category) - (before.byCategory[category] ?? 0);
      const context = `seed ${seed}, plan peak at ${plan.peak.phase}`;
      for (const category of ['weights', 'statistics', 'activations', 'staging'] as const)
        expect(grown(category), `${category}, ${context}`).toBe(plan.categoryPeaks[category] ?? 0);
      const scratch = grown('scratch');
      expect(scratch, context).toBeGreaterThanOrEqual(plan.categoryPeaks.scratch ?? 0);
      const measured = rt.ledger.snapshot().peakBytes - before.liveBytes;
      expect(measured, context).toBeGreaterThanOrEqual(plan.peak.bytes);
      expect(measured, context).toBeLessThanOrEqual(plan.peak.bytes * 1.01);
    });
  }
});
