import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { createNodeRuntime } from '../../host/nodeGpu';
import { freshSeed, Random } from '../../kernels/random';
import { Adapprox } from './adapprox';
import { sketchKey } from './srsi';
import { recordFloats, rotateFactors, sketchLayout, srsiSmall } from './srsiGpu';
import {
  type BatchEntry,
  type BatchShape,
  packSrsiTable,
  planSrsiBatches,
  SRSI_TABLE_WORDS,
  srsiBatch,
} from './srsiGpuBatch';
import { TestParams } from './testParams';

const U = 2 ** -24;
const SLOTS = 8;

describe('planSrsiBatches: which small matrices share a dispatch, and where their data goes', () => {
  const limits = { bindingBytes: 4096, alignBytes: 256, maxMatrices: 3, budgetBytes: 1 << 20 };

  it('starts every V on the offset alignment, U_prev right after it, and sketches back to back', () => {
    const shapes: BatchShape[] = [
      { rows: 9, cols: 10, w: 5, warmFloats: 20 },
      { rows: 13, cols: 13, w: 4, warmFloats: 0 },
      { rows: 3, cols: 5, w: 2, warmFloats: 6 },
    ];
    const plan = planSrsiBatches(shapes, limits);
    expect(plan.batches).toHaveLength(1);
    expect(plan.placements.map((p) => p && [p.v0, p.u0, p.s0, p.entry])).toEqual([
      // 90 + 20 floats round up to 128 (64 floats = 256 bytes); 169 to 192.
      [0, 90, 0, 0],
      [128, 297, sketchLayout(9, 10, 5).floats, 1],
      [320, 335, sketchLayout(9, 10, 5).floats + sketchLayout(13, 13, 4).floats, 2],
    ]);
    // The V buffer ends at the last matrix's data, with no padding after it.
    expect(plan.batches[0]).toEqual({
      vFloats: 341,
      sketchFloats: shapes.reduce((s, x) => s + sketchLayout(x.rows, x.cols, x.w).floats, 0),
      // The widest sketch, which sizes the batch's work in workgroup memory.
      w: 5,
      first: 0,
      count: 3,
    });
  });

  it("makes a matrix's region large enough for the rotated factors the S-RSI leaves in V's place", () => {
    const shapes: BatchShape[] = [
      // V 8 × 8 = 64 floats, U_prev 16, but (8 + 8) · 8 = 128 floats of factors.
      { rows: 8, cols: 8, w: 8, warmFloats: 16, factorFloats: 128 },
      { rows: 3, cols: 5, w: 2, warmFloats: 0, factorFloats: 8 },
    ];
    const plan = planSrsiBatches(shapes, limits);
    expect(plan.placements.map((p) => p && [p.v0, p.u0])).toEqual([
      [0, 64],
      [128, 143],
    ]);
    expect(plan.batches[0]?.vFloats).toBe(143);
  });

  it('opens a new batch at the binding limit or the workgroup limit, and leaves out what cannot fit', () => {
    const shapes: BatchShape[] = [
      { rows: 20, cols: 30, w: 5, warmFloats: 0 }, // 600 floats
      { rows: 20, cols: 30, w: 5, warmFloats: 0 }, // 600 + 600 > 1024: a new batch
      { rows: 40, cols: 40, w: 5, warmFloats: 0 }, // 1600 > 1024 floats alone: left out
      { rows: 4, cols: 8, w: 2, warmFloats: 0 },
      { rows: 4, cols: 8, w: 2, warmFloats: 0 }, // the 4th matrix of batch 1 (3 workgroups at most)
      { rows: 4, cols: 8, w: 2, warmFloats: 0 },
    ];
    const plan = planSrsiBatches(shapes, limits);
    expect(plan.placements.map((p) => p?.batch ?? null)).toEqual([0, 1, null, 1, 1, 2]);
    expect(plan.batches.map((b) => [b.first, b.count])).toEqual([
      [0, 1],
      [1, 3],
      [4, 1],
    ]);
    expect(plan.entries).toBe(5);
    // Every buffer of every batch fits one binding.
    for (const b of plan.batches) {
      expect(4 * b.vFloats).toBeLessThanOrEqual(limits.bindingBytes);
      expect(4 * b.sketchFloats).toBeLessThanOrEqual(limits.bindingBytes);
    }
  });

  it("numbers each batch's entries (its workgroups) costliest first, and leaves the data in the given order", () => {
    const shapes: BatchShape[] = [
      { rows: 4, cols: 8, w: 2, warmFloats: 0 },
      { rows: 20, cols: 30, w: 5, warmFloats: 0 },
      { rows: 10, cols: 12, w: 4, warmFloats: 0 },
      { rows: 4, cols: 8, w: 2, warmFloats: 0 },
    ];
    const plan = planSrsiBatches(shapes, { ...limits, bindingBytes: 1 << 20, maxMatrices: 64 });
    expect(plan.batches.map((b) => [b.first, b.count])).toEqual([[0, 4]]);
    // The 20 × 30 matrix first, then 10 × 12, then the two equal 4 × 8 in their order.
    expect(plan.placements.map((p) => p?.entry)).toEqual([2, 0, 1, 3]);
    expect(plan.placements.map((p) => p?.v0)).toEqual([0, 64, 704, 832]);
  });

  it('keeps the batched V within the byte budget, the rest per matrix; a budget of 0 batches nothing', () => {
    const shapes: BatchShape[] = Array.from({ length: 4 }, () => ({
      rows: 8,
      cols: 16,
      w: 3,
      warmFloats: 0,
    }));
    // 128 floats each = 512 bytes: a 1200-byte budget takes two.
    const plan = planSrsiBatches(shapes, { ...limits, budgetBytes: 1200 });
    expect(plan.placements.map((p) => p !== null)).toEqual([true, true, false, false]);
    expect(planSrsiBatches(shapes, { ...limits, budgetBytes: 0 }).entries).toBe(0);
    expect(() => planSrsiBatches(shapes, { ...limits, alignBytes: 6 })).toThrow(/multiple of 4 bytes/);
  });
});

/** A positive rows × cols matrix with a decaying spectrum, like an EMA of squared gradients. */
function secondMoment(random: Random, rows: number, cols: number): Float32Array {
  const v = new Float32Array(rows * cols);
  for (let r = 0; r < 4; r++) {
    const a = Array.from({ length: rows }, () => 0.1 + random.next());
    const b = Array.from({ length: cols }, () => 0.1 + random.next());
    const c = 0.3 ** r;
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++)
        v[i * cols + j] = (v[i * cols + j] as number) + c * (a[i] as number) * (b[j] as number);
  }
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * (1 + 0.01 * random.next()) * 1e-4;
  return v;
}

interface Case {
  name: string;
  rows: number;
  cols: number;
  w: number;
  k: number;
  /** U_prev's columns for the warm start (its row stride is `k`), or 0 for a fresh Gaussian. */
  warm: number;
}

describe('the batched S-RSI (one dispatch for many matrices) against one dispatch per matrix', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
  });
  afterAll(() => rt.destroy());

  /**
   * Runs the S-RSI of every case both ways, from the same V, U_prev, scalars and Gaussian keys, and
   * compares the chosen ranks, the errors ξ_j and the reconstructions Q_k·U_kᵀ, with workgroups of
   * `invocations` each (default srsiWorkgroup's). Returns how many dispatches the batched path took.
   */
  async function bothWays(
    rt: GpuRuntime,
    cases: readonly Case[],
    seed: number,
    invocations?: number,
  ): Promise<number> {
    const random = new Random(seed);
    const data = cases.map((c) => {
      const v = secondMoment(random, c.rows, c.cols);
      const long = Math.max(c.rows, c.cols);
      const u = Float32Array.from({ length: long * c.k }, () => (random.next() - 0.5) * 1e-4);
      let top = 0;
      for (const x of v) top = Math.max(top, x);
      let s2 = 0;
      for (const x of v) s2 += (x / top) ** 2;
      return { v, u, top, s2, key: sketchKey(seed, c.name, 3) };
    });
    // The scalar buffer: 8 slots per matrix (max V at +3, Σ (V / max V)² at +4), then the records.
    const records: number[] = [];
    let floats = SLOTS * cases.length;
    for (const c of cases) {
      records.push(floats);
      floats += recordFloats(c.w);
    }
    const scalarsData = new Float32Array(floats);
    for (const [i, d] of data.entries()) {
      scalarsData[SLOTS * i + 3] = d.top;
      scalarsData[SLOTS * i + 4] = d.s2;
    }
    const owned: { destroy(): void }[] = [];
    const upload = async (label: string, values: Float32Array | Uint32Array) => {
      const b = await rt.upload(label, 'scratch', values);
      owned.push(b);
      return b.buffer;
    };
    const create = async (label: string, n: number) => {
      const b = await rt.createBuffer(label, 'scratch', 4 * n);
      owned.push(b);
      return b.buffer;
    };
    const rank = (c: Case, i: number) => ({
      slot: SLOTS * i,
      record: records[i] as number,
      kMin: c.k,
      kCap: c.k,
      threshold: 0,
    });
    try {
      // One dispatch per matrix.
      const single = await upload('scalars single', scalarsData);
      const singleFactors = [];
      for (const [i, c] of cases.entries()) {
        const d = data[i] as (typeof data)[number];
        const short = Math.min(c.rows, c.cols);
        const long = Math.max(c.rows, c.cols);
        const sketch = await create(`sketch ${c.name}`, sketchLayout(short, long, c.w).floats);
        const q = await create(`q ${c.name}`, short * c.k);
        const u = await create(`u ${c.name}`, long * c.k);
        const warm =
          c.warm > 0 ? { u: await upload(`u prev ${c.name}`, d.u), k: c.warm, stride: c.k } : undefined;
        rt.submit([
          await srsiSmall(rt, {
            ...rank(c, i),
            v: await upload(`v ${c.name}`, d.v),
            rows: c.rows,
            cols: c.cols,
            w: c.w,
            sketch,
            scalars: single,
            key: d.key,
            iterations: 2,
            warm,
            spare: await create(`spare ${c.name}`, 1),
            group: invocations,
          }),
          await rotateFactors(rt, {
            sketch,
            scalars: single,
            slot: SLOTS * i,
            short,
            long,
            w: c.w,
            k: c.k,
            stride: c.k,
            qOut: q,
            uOut: u,
          }),
        ]);
        singleFactors.push({ q, u });
      }

      // The batch, placed as Adapprox places it.
      const plan = planSrsiBatches(
        cases.map((c) => ({
          rows: c.rows,
          cols: c.cols,
          w: c.w,
          warmFloats: c.warm > 0 ? (data[cases.indexOf(c)]?.u.length ?? 0) : 0,
          factorFloats: (c.rows + c.cols) * c.k,
        })),
        {
          bindingBytes: rt.limits.maxStorageBufferBindingSize,
          alignBytes: rt.limits.minStorageBufferOffsetAlignment,
          maxMatrices: rt.limits.maxComputeWorkgroupsPerDimension,
          budgetBytes: 1 << 24,
        },
      );
      expect(plan.placements.every((p) => p !== null)).toBe(true);
      const batched = await upload('scalars batched', scalarsData);
      const entries: BatchEntry[] = cases.map((c, i) => ({
        ...rank(c, i),
        rows: c.rows,
        cols: c.cols,
        w: c.w,
        key: data[i]?.key as number,
        iterations: 2,
        taken: c.warm,
        uStride: c.warm > 0 ? c.k : 0,
        outStride: 0,
        placement: plan.placements[i] as NonNullable<(typeof plan.placements)[number]>,
      }));
      const table = await upload('table', packSrsiTable(entries));
      const vBuffers: GPUBuffer[] = [];
      const sketches: GPUBuffer[] = [];
      for (const [b, group] of plan.batches.entries()) {
        const values = new Float32Array(group.vFloats).fill(Number.NaN);
        for (const [i, e] of entries.entries())
          if (e.placement.batch === b) {
            const d = data[i] as (typeof data)[number];
            values.set(d.v, e.placement.v0);
            if (e.taken > 0) values.set(d.u, e.placement.u0);
          }
        vBuffers.push(await upload(`batch V ${b}`, values));
        // Poisoned: every float the S-RSI reads it wrote first.
        sketches.push(
          await upload(`batch sketch ${b}`, new Float32Array(group.sketchFloats).fill(Number.NaN)),
        );
      }
      let dispatches = 0;
      for (const [b, group] of plan.batches.entries()) {
        rt.submit([
          await srsiBatch(rt, {
            group,
            v: vBuffers[b] as GPUBuffer,
            sketch: sketches[b] as GPUBuffer,
            scalars: batched,
            table,
            workgroup: invocations,
          }),
        ]);
        dispatches++;
      }
      // The batch leaves each matrix's rotated factors in its V's place: Q (short × k), then U.
      const vRead = await Promise.all(vBuffers.map((v) => rt.readF32(v)));
      const batchedFactors = cases.map((c, i) => {
        const p = entries[i]?.placement as BatchEntry['placement'];
        const q = Math.min(c.rows, c.cols) * c.k;
        const values = vRead[p.batch] as Float32Array;
        return {
          q: values.slice(p.v0, p.v0 + q),
          u: values.slice(p.v0 + q, p.v0 + (c.rows + c.cols) * c.k),
        };
      });

      const a = await rt.readF32(single);
      const b = await rt.readF32(batched);
      for (const [i, c] of cases.entries()) {
        const what = `${c.name} (${c.rows}×${c.cols}, w ${c.w}, warm ${c.warm}) seed ${seed}`;
        const r = records[i] as number;
        // The rank: k_min = k_cap = k, so both must choose k; ξ_j is a square root of a difference of
        // sums of w eigenvalues of the f32 Gram, each within ~w·long·u of ‖V / max V‖², so 1e-3.
        expect(b[r + c.w + 1], what).toBe(c.k);
        expect(a[r + c.w + 1], what).toBe(c.k);
        for (let j = 0; j <= c.w; j++)
          expect(Math.abs((a[r + j] as number) - (b[r + j] as number)), `${what} ξ_${j}`).toBeLessThanOrEqual(
            1e-3,
          );
        // Q_k·U_kᵀ: the same WGSL function on the same data (one workgroup per matrix either way),
        // so the two differ at most by the roundings a compiler may contract differently, carried
        // through the QR passes and the products: ‖ΔH‖_F ≤ 16·(short + long)·w·u·‖V‖_F.
        const short = Math.min(c.rows, c.cols);
        const long = Math.max(c.rows, c.cols);
        const [qa, ua] = await Promise.all(
          [singleFactors[i]?.q, singleFactors[i]?.u].map((x) => rt.readF32(x as GPUBuffer)),
        );
        const { q: qb, u: ub } = batchedFactors[i] as { q: Float32Array; u: Float32Array };
        let diff = 0;
        let norm = 0;
        for (let s = 0; s < short; s++)
          for (let l = 0; l < long; l++) {
            let ha = 0;
            let hb = 0;
            for (let j = 0; j < c.k; j++) {
              ha += (qa?.[s * c.k + j] as number) * (ua?.[l * c.k + j] as number);
              hb += (qb?.[s * c.k + j] as number) * (ub?.[l * c.k + j] as number);
            }
            diff += (ha - hb) ** 2;
            const x = c.rows <= c.cols ? data[i]?.v[s * c.cols + l] : data[i]?.v[l * c.cols + s];
            norm += (x as number) ** 2;
          }
        expect(Number.isFinite(diff), what).toBe(true);
        expect(Math.sqrt(diff), what).toBeLessThanOrEqual(16 * (short + long) * c.w * U * Math.sqrt(norm));
        // Not vacuous: the rank-k reconstruction carries most of V.
        expect(norm, what).toBeGreaterThan(0);
      }
      return dispatches;
    } finally {
      for (const o of owned) o.destroy();
    }
  }

  // Both orientations, square, a sketch as wide as the short side, widths that are not multiples of
  // the 4 × 4 product tiles, with and without U_prev.
  const CASES: Case[] = [
    { name: 'w9x70', rows: 9, cols: 70, w: 9, k: 3, warm: 3 },
    { name: 'w70x9', rows: 70, cols: 9, w: 7, k: 2, warm: 0 },
    { name: 'w13x13', rows: 13, cols: 13, w: 6, k: 4, warm: 2 },
    { name: 'w24x40', rows: 24, cols: 40, w: 9, k: 5, warm: 0 },
    { name: 'w17x20', rows: 17, cols: 20, w: 8, k: 4, warm: 4 },
    { name: 'w33x17', rows: 33, cols: 17, w: 9, k: 1, warm: 0 },
  ];

  it('matches on matrices of different shapes in one dispatch', async () => {
    expect(await bothWays(rt, CASES, freshSeed())).toBe(1);
  });

  it('matches under a tiny binding limit and 3 workgroups of 8 per dispatch, split over several batches', async () => {
    const tiny = await createNodeRuntime({
      capLimits: { maxStorageBufferBindingSize: 4096, maxComputeWorkgroupsPerDimension: 3 },
    });
    try {
      // 4 KiB holds one 24 × 40 V (960 floats) at a time, or 9 × 70 with its U_prev (840) and
      // 13 × 13 (169) with its U_prev (52).
      const dispatches = await bothWays(tiny, CASES, freshSeed(), 8);
      expect(dispatches).toBeGreaterThan(1);
      expect(dispatches).toBeLessThan(CASES.length);
    } finally {
      tiny.destroy();
    }
  });

  it('Adapprox batched and per matrix: the same ranks, errors and weights over warm-started steps, also preallocated', async () => {
    const seed = freshSeed();
    const shapes = [
      ...CASES.map(({ name, rows, cols }) => ({ name, rows, cols })),
      { name: 'row1x67', rows: 1, cols: 67 },
      { name: 'w5x3', rows: 5, cols: 3 },
    ];
    // Preallocated with Δk = 1, the rank (2, 3, then 4) stays below the factors' stride k_max = 4 (columns
    // k…3 zeroed, by the batch's rotation and by rotate_factors).
    // Also with every step on the multi-pass path, whose V goes to the batch's buffer at an offset.
    const settings = [{}, { deltaK: 1, preallocate: true }, { fuseStepUpTo: 0 }];
    for (const [runtime, extra] of [
      ['default', settings[0]],
      ['tiny binding', settings[0]],
      ['default', settings[1]],
      ['default', settings[2]],
    ] as const) {
      const device =
        runtime === 'default'
          ? rt
          : await createNodeRuntime({
              capLimits: { maxStorageBufferBindingSize: 4096, maxComputeWorkgroupsPerDimension: 3 },
            });
      try {
        const runs = [];
        for (const batchBytes of [undefined, 0]) {
          const random = new Random(seed);
          const set = await TestParams.create(device, random, shapes);
          const opt = new Adapprox({ kMax: () => 4, seed: 3, batchBytes, ...extra });
          for (let t = 0; t < 3; t++) {
            set.setGradients((p) =>
              Float32Array.from({ length: p.rows * p.cols }, () => (random.next() - 0.5) * 1e-2),
            );
            await opt.step(device, set.slots, 1e-3);
          }
          const weights = await Promise.all(set.params.map((p) => set.read(p)));
          const moved = set.params.map((p, i) =>
            Math.max(...(weights[i] as Float32Array).map((x, j) => Math.abs(x - (p.p0[j] as number)))),
          );
          runs.push({ weights, moved, diagnostics: opt.diagnostics() });
          opt.destroy();
          set.destroy();
        }
        const [batched, alone] = runs as [(typeof runs)[number], (typeof runs)[number]];
        for (const [i, d] of batched.diagnostics.entries()) {
          const other = alone.diagnostics[i];
          expect(d.rank, `${runtime} ${d.name} seed ${seed}`).toBe(other?.rank);
          expect(Math.abs(d.relativeError - (other?.relativeError as number))).toBeLessThanOrEqual(1e-3);
        }
        // The weights: the first step has no history, so both paths take the same update; later
        // steps read a history that may differ by rounding (above), which reaches each entry of V
        // relatively, and W through half of that per step. Measured: bit-for-bit equal on
        // SwiftShader; the bound allows 1e-3 of how far the weights moved.
        for (const [i, w] of batched.weights.entries()) {
          const other = alone.weights[i] as Float32Array;
          let worst = 0;
          for (let j = 0; j < w.length; j++)
            worst = Math.max(worst, Math.abs((w[j] as number) - (other[j] as number)));
          expect(worst, `${runtime} ${shapes[i]?.name} seed ${seed}`).toBeLessThanOrEqual(
            1e-3 * (batched.moved[i] as number),
          );
          expect(batched.moved[i]).toBeGreaterThan(0);
        }
      } finally {
        if (device !== rt) device.destroy();
      }
    }
  });
});

// The table's layout is the shader's: SrsiJob has 18 fields.
it('packs one table entry of SRSI_TABLE_WORDS words per matrix, the threshold as its f32 bits', () => {
  const placement = { batch: 0, v0: 64, u0: 100, s0: 7, entry: 1 };
  const words = packSrsiTable([
    {
      rows: 30,
      cols: 20,
      w: 5,
      slot: 8,
      record: 16,
      kMin: 1,
      kCap: 3,
      key: 99,
      iterations: 2,
      threshold: 0.5,
      taken: 2,
      uStride: 3,
      outStride: 4,
      placement,
    },
  ]);
  expect(words).toHaveLength(2 * SRSI_TABLE_WORDS);
  expect(Array.from(words.subarray(SRSI_TABLE_WORDS))).toEqual([
    20, 30, 20, 5, 1, 8, 16, 1, 3, 99, 2, 2, 0x3f000000, 3, 64, 7, 100, 4,
  ]);
  expect(() =>
    packSrsiTable([
      {
        ...{
          rows: 3,
          cols: 4,
          w: 2,
          slot: -1,
          record: 0,
          kMin: 1,
          kCap: 1,
          key: 0,
          iterations: 1,
          threshold: 0,
          taken: 0,
          uStride: 0,
          outStride: 0,
        },
        placement,
      },
    ]),
  ).toThrow(/not a u32/);
});
