import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { createNodeRuntime } from '../../host/nodeGpu';
import { Random } from '../../kernels/random';
import { createOptimizer, type OptimizerChoice } from './index';
import type { Optimizer } from './optimizer';
import type { OptimizerState } from './state';
import { awkwardGradient, type Shape, TestParams } from './testParams';

// Every optimizer's state survives a trip to the host and onto another device: an optimizer steps a
// few times on one runtime, exports its state, a fresh optimizer of the same settings imports it on a
// fresh runtime beside the same weights, and both take the same next step. The weights after it and
// the state exported after it must be equal bit for bit (the copies are exact float32 and both
// devices run the same kernels on the same inputs). A fresh optimizer taking that step from no
// state must land elsewhere, or the comparison would prove nothing.

/** Two matrices Adapprox factors (short side ≥ 8, both orientations) and two vectors. */
const SHAPES: Shape[] = [
  { name: 'w24x16', rows: 24, cols: 16 },
  { name: 'w16x40', rows: 16, cols: 40 },
  { name: 'row1x16', rows: 1, cols: 16 },
  { name: 'col9x1', rows: 9, cols: 1 },
];

const CHOICES: [string, OptimizerChoice][] = [
  ['AdamW', { kind: 'adamw' }],
  ['Adafactor with momentum, fused', { kind: 'adafactor', options: { beta1: 0.9 } }],
  ['Adafactor, multi-pass', { kind: 'adafactor', options: { fuseUpTo: 0 } }],
  ['CAME, fused', { kind: 'came' }],
  ['CAME, multi-pass', { kind: 'came', options: { fuseUpTo: 0 } }],
  ['Adapprox, fused', { kind: 'adapprox', options: { kMax: 6 } }],
  [
    'Adapprox, warm start, multi-pass',
    { kind: 'adapprox', options: { kMax: 6, warmStart: true, fuseBelow: 0, fuseStepUpTo: 0 } },
  ],
  [
    'Adapprox without M, preallocated',
    { kind: 'adapprox', options: { beta1: 0, kMax: 4, preallocate: true } },
  ],
];

const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

function expectSameState(a: OptimizerState, b: OptimizerState) {
  expect(b.optimizer).toBe(a.optimizer);
  expect(b.params.map((p) => [p.name, p.t, p.rank])).toEqual(a.params.map((p) => [p.name, p.t, p.rank]));
  for (const [i, p] of a.params.entries()) {
    const q = b.params[i] as OptimizerState['params'][number];
    expect(Object.keys(q.buffers).sort(), p.name).toEqual(Object.keys(p.buffers).sort());
    for (const [key, data] of Object.entries(p.buffers))
      expect(bits(q.buffers[key] as Float32Array), `${p.name} ${key}`).toEqual(bits(data));
  }
}

describe('optimizer state export and import', () => {
  let rt: GpuRuntime;
  let other: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
    other = await createNodeRuntime();
  });
  afterAll(() => {
    rt.destroy();
    other.destroy();
  });

  for (const [label, choice] of CHOICES) {
    it(`${label}: the next step after an import on a fresh runtime is the exporter's, bit for bit`, async () => {
      const random = new Random(7);
      const here = await TestParams.create(rt, random, SHAPES);
      const optimizers: Optimizer[] = [];
      const sets = [here];
      try {
        const original = createOptimizer(choice);
        optimizers.push(original);
        for (let t = 0; t < 3; t++) {
          here.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
          await original.step(rt, here.slots, 1e-2);
        }
        const exported = await original.exportState(rt);
        expect(exported.params).toHaveLength(SHAPES.length);

        // The same weights on the other runtime, and the state imported there.
        const there = await TestParams.create(other, new Random(1), SHAPES);
        const fresh = await TestParams.create(other, new Random(1), SHAPES);
        sets.push(there, fresh);
        for (const p of here.params) {
          const w = await here.read(p);
          other.write(there.params.find((x) => x.name === p.name)?.slot.p as GPUBuffer, w);
          other.write(fresh.params.find((x) => x.name === p.name)?.slot.p as GPUBuffer, w);
        }
        const imported = createOptimizer(choice);
        const unprimed = createOptimizer(choice);
        optimizers.push(imported, unprimed);
        await imported.importState(other, exported, there.slots);
        expectSameState(exported, await imported.exportState(other));
        expect(imported.stateBytes()).toEqual({
          ...original.stateBytes(),
          transient: imported.stateBytes().transient,
        });

        const g = SHAPES.map((s) => awkwardGradient(random, s.rows, s.cols));
        for (const set of [here, there, fresh])
          set.setGradients((p) => g[SHAPES.findIndex((s) => s.name === p.name)] as Float32Array);
        await original.step(rt, here.slots, 5e-3);
        await imported.step(other, there.slots, 5e-3);
        await unprimed.step(other, fresh.slots, 5e-3);
        let differs = false;
        for (const [i, p] of here.params.entries()) {
          const want = await here.read(p);
          expect(bits(await there.read(there.params[i] as typeof p)), p.name).toEqual(bits(want));
          const w = await fresh.read(fresh.params[i] as typeof p);
          differs ||= bits(w).some((x, j) => x !== bits(want)[j]);
        }
        expect(differs, 'a step without the state lands elsewhere').toBe(true);
        expectSameState(await original.exportState(rt), await imported.exportState(other));
      } finally {
        for (const o of optimizers) o.destroy();
        for (const s of sets) s.destroy();
      }
    }, 60_000);
  }

  it('refuses a state of another optimizer, another shape or other settings, keeping its own', async () => {
    const random = new Random(3);
    const set = await TestParams.create(rt, random, SHAPES);
    const adamw = createOptimizer({ kind: 'adamw' });
    const adafactor = createOptimizer({ kind: 'adafactor' });
    try {
      set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
      await adamw.step(rt, set.slots, 1e-3);
      await adafactor.step(rt, set.slots, 1e-3);
      const state = await adamw.exportState(rt);
      await expect(adafactor.importState(rt, state, set.slots)).rejects.toThrow(
        'Adafactor: cannot import the state of AdamW',
      );
      const reshaped = set.slots.map((s) => (s.name === 'w24x16' ? { ...s, rows: 16, cols: 24 } : s));
      await expect(adamw.importState(rt, state, reshaped)).rejects.toThrow(
        'AdamW: "w24x16" is 16×24 here but 24×16 in the state',
      );
      // A state that does not fit part-way (the vectors have no M either) is dropped whole: the
      // optimizer it was imported into holds nothing rather than a mix.
      const momentum = createOptimizer({ kind: 'adafactor', options: { beta1: 0.9 } });
      await momentum.step(rt, set.slots, 1e-3);
      const before = rt.ledger.bytesIn('optimizer');
      await expect(momentum.importState(rt, await adafactor.exportState(rt), set.slots)).rejects.toThrow(
        /the state of "w24x16" holds r, c but this optimizer keeps r, c, m/,
      );
      expect(momentum.stateBytes().persistent).toBe(0);
      expect(rt.ledger.bytesIn('optimizer')).toBe(
        before -
          4 *
            SHAPES.reduce(
              (n, s) =>
                n + s.rows * s.cols + (s.rows === 1 || s.cols === 1 ? s.rows * s.cols : s.rows + s.cols),
              0,
            ),
      );
      momentum.destroy();
      // The refused imports left the optimizers' own state in place.
      expect(adamw.stateBytes().persistent).toBe(8 * SHAPES.reduce((n, s) => n + s.rows * s.cols, 0));
    } finally {
      adamw.destroy();
      adafactor.destroy();
      set.destroy();
    }
  });
});
