import { describe, expect, it } from 'vitest';
import { planFusedSteps, regionFloats, STEP_TABLE_WORDS, type StepShape } from './adapproxStep';
import { costliestFirst, f32Bits, setEntry } from './jobTable';

const shape = (rows: number, cols: number, extra: Partial<StepShape> = {}): StepShape => ({
  rows,
  cols,
  slot: 0,
  dense: true,
  beta2: 0.999,
  ...extra,
});

describe('planFusedSteps: where each parameter of the fused steps lives in its arena', () => {
  const history = { k: 2, stride: 3, qFloats: 12, uFloats: 15, qOnRows: true };

  it('lays out G, W, M, V, Q and U back to back, and writes each entry of the table', () => {
    // The second parameter has a history of rank 2, so its entry (its workgroup) comes first.
    const shapes = [shape(4, 5, { slot: 8 }), shape(4, 5, { slot: 16, dense: false, beta2: 0, history })];
    const plan = planFusedSteps([shapes], true, { bindingBytes: 1 << 20, maxWorkgroups: 64 });
    expect(plan.dispatches).toEqual([{ first: 0, count: 2, arenaFloats: 80 + 80 + 27 }]);
    expect(plan.groups).toEqual([[0]]);
    const [a, b] = plan.placements[0] as [unknown, unknown];
    expect(a).toEqual({
      dispatch: 0,
      entry: 1,
      n: 20,
      dense: true,
      history: false,
      g0: 0,
      w0: 20,
      m0: 40,
      v0: 60,
      q0: 0,
      u0: 0,
    });
    expect(b).toEqual({
      dispatch: 0,
      entry: 0,
      n: 20,
      dense: false,
      history: true,
      g0: 80,
      w0: 100,
      m0: 120,
      v0: 140,
      q0: 160,
      u0: 172,
    });
    expect(Array.from(plan.table.subarray(0, STEP_TABLE_WORDS))).toEqual([
      20,
      5,
      16,
      2,
      3,
      1,
      0,
      f32Bits(0),
      f32Bits(1 / 20),
      80,
      100,
      120,
      140,
      160,
      172,
    ]);
    // Without a first moment a region has no M: W is followed by V.
    const plain = planFusedSteps([shapes], false, { bindingBytes: 1 << 20, maxWorkgroups: 64 });
    expect(plain.placements[0]?.[1]).toMatchObject({ g0: 60, w0: 80, m0: 0, v0: 100, q0: 120, u0: 132 });
    expect(regionFloats(shapes[1] as StepShape, false)).toBe(60 + 27);
  });

  it('opens a new dispatch at the binding limit or the workgroup limit, and keeps groups apart', () => {
    // Regions of 4·20 = 80 floats; a binding of 200 floats holds two.
    const limits = { bindingBytes: 800, maxWorkgroups: 64 };
    const plan = planFusedSteps([[shape(4, 5), shape(4, 5), shape(4, 5)], [shape(4, 5)]], true, limits);
    expect(plan.dispatches.map((d) => [d.first, d.count, d.arenaFloats])).toEqual([
      [0, 2, 160],
      [2, 1, 80],
      [3, 1, 80],
    ]);
    expect(plan.groups).toEqual([[0, 1], [2]]);
    expect(plan.placements[0]?.[2]).toMatchObject({ dispatch: 1, entry: 2, g0: 0 });
    const narrow = planFusedSteps([[shape(1, 3), shape(1, 3), shape(1, 3)]], true, {
      bindingBytes: 1 << 20,
      maxWorkgroups: 2,
    });
    expect(narrow.dispatches.map((d) => d.count)).toEqual([2, 1]);
  });

  it('refuses a parameter whose region alone cannot fit one binding', () => {
    expect(() => planFusedSteps([[shape(10, 10)]], true, { bindingBytes: 1000, maxWorkgroups: 8 })).toThrow(
      /a 10 × 10 parameter's 400 floats cannot share one binding/,
    );
  });
});

describe("the batched kernels' tables (jobTable.ts)", () => {
  it('writes u32 words at the entry, an f32 as its bits, and refuses anything else', () => {
    const table = new Uint32Array(6);
    setEntry(table, 1, 3, [7, f32Bits(1.5), 0xffffffff], 'test');
    expect(Array.from(table)).toEqual([0, 0, 0, 7, 0x3fc00000, 0xffffffff]);
    expect(() => setEntry(table, 0, 3, [1, -1, 2], 'test')).toThrow(/test entry 0: -1 is not a u32/);
    expect(() => setEntry(table, 0, 3, [1, 2.5, 2], 'test')).toThrow(/2.5 is not a u32/);
    expect(() => setEntry(table, 0, 3, [1, 2], 'test')).toThrow(/an entry has 2 words, not 3/);
  });

  it("renumbers a dispatch's run of entries costliest first, ties in their order", () => {
    const members = [{ entry: 5 }, { entry: 6 }, { entry: 7 }, { entry: 8 }];
    costliestFirst(members, [3, 10, 3, 4]);
    expect(members.map((m) => m.entry)).toEqual([7, 5, 8, 6]);
    expect(() => costliestFirst(members, [1])).toThrow(/4 entries to renumber but 1 costs/);
  });
});
