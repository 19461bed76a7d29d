// Test fixtures shared by the optimizer tests: parameters with awkward shapes uploaded to the GPU
// next to float64 copies for the references, fresh seeded gradients, and the comparison of a GPU
// run with its reference, and the checks every optimizer's tests make of its state and failures.

import { expect } from 'vitest';
import type { TrackedBuffer } from '../../gpu/ledger';
import { countersSince, type GpuRuntime } from '../../gpu/runtime';
import { freshSeed, Random } from '../../kernels/random';
import type { Optimizer, ParamSlot } from './optimizer';

/** f32 unit roundoff. */
export const U32 = 2 ** -24;

export interface Shape {
  name: string;
  rows: number;
  cols: number;
}

/** A 7×13 matrix, its 13×7 transpose (the other orientation), a 1×5 row and a 33×1 column vector. */
export const AWKWARD: Shape[] = [
  { name: 'w7x13', rows: 7, cols: 13 },
  { name: 'w13x7', rows: 13, cols: 7 },
  { name: 'row1x5', rows: 1, cols: 5 },
  { name: 'col33x1', rows: 33, cols: 1 },
];

export interface TestParam extends Shape {
  slot: ParamSlot;
  /** The parameter as it was uploaded, exactly (f32 values). */
  p0: Float32Array;
  /** The reference's copy, stepped in float64. */
  ref: Float64Array;
}

export class TestParams {
  readonly params: TestParam[] = [];
  private readonly owned: TrackedBuffer[] = [];

  private constructor(private readonly rt: GpuRuntime) {}

  static async create(rt: GpuRuntime, random: Random, shapes: readonly Shape[]): Promise<TestParams> {
    const set = new TestParams(rt);
    for (const s of shapes) {
      const p0 = random.uniform(s.rows * s.cols, -1, 1);
      const p = await rt.upload(`test p ${s.name}`, 'weights', p0);
      const g = await rt.createBuffer(`test g ${s.name}`, 'gradients', p0.byteLength);
      set.owned.push(p, g);
      set.params.push({ ...s, p0, ref: Float64Array.from(p0), slot: { ...s, p: p.buffer, g: g.buffer } });
    }
    return set;
  }

  get slots(): ParamSlot[] {
    return this.params.map((p) => p.slot);
  }

  /** Uploads one gradient per parameter and returns them (f32, as the GPU sees them). */
  setGradients(make: (param: TestParam) => Float32Array): Float32Array[] {
    return this.params.map((param) => {
      const g = make(param);
      this.rt.write(param.slot.g, g);
      return g;
    });
  }

  async read(param: TestParam): Promise<Float32Array> {
    return this.rt.readF32(param.slot.p, 0, param.rows * param.cols * 4);
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

/** Gradients of varied scale per row and column (as real ones are), never zero. */
export function awkwardGradient(random: Random, rows: number, cols: number, scale = 1e-2): Float32Array {
  const rowScale = Array.from({ length: rows }, () => 0.1 + 3 * random.next());
  const colScale = Array.from({ length: cols }, () => 0.1 + 3 * random.next());
  const g = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const sign = random.next() < 0.5 ? -1 : 1;
      g[i * cols + j] =
        sign * scale * (rowScale[i] as number) * (colScale[j] as number) * (0.2 + random.next());
    }
  return g;
}

export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] as number));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    // NaN must fail the comparison, not vanish in max.
    if (!(d <= m)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}

export interface ReferenceRun {
  step(
    params: { name: string; rows: number; cols: number; p: Float64Array; g: Float32Array }[],
    lr: number,
  ): void;
  /** After a step: how much this step adds to the bound on |p_gpu − p_ref| of the parameter. */
  boundAfterStep(param: TestParam, step: number): number;
}

/**
 * Steps an optimizer on the GPU and its float64 reference with the same f32 gradients and learning
 * rates, then checks max |p_gpu − p_ref| ≤ Σ_t bound_t per parameter, and that the parameters moved
 * by far more than that. Returns error / bound per parameter, for the record.
 */
export async function compareWithReference(
  rt: GpuRuntime,
  opt: { step(rt: GpuRuntime, params: ParamSlot[], lr: number): Promise<void> },
  ref: ReferenceRun,
  set: TestParams,
  random: Random,
  lrs: readonly number[],
  gradient: (param: TestParam, step: number) => Float32Array = (p) =>
    awkwardGradient(random, p.rows, p.cols, 10 ** (-1 - 2 * random.next())),
): Promise<{ name: string; error: number; bound: number; moved: number }[]> {
  const bounds = set.params.map(() => 0);
  for (const [t, lr] of lrs.entries()) {
    const grads = set.setGradients((p) => gradient(p, t));
    await opt.step(rt, set.slots, lr);
    ref.step(
      set.params.map((p, i) => ({
        name: p.name,
        rows: p.rows,
        cols: p.cols,
        p: p.ref,
        g: grads[i] as Float32Array,
      })),
      lr,
    );
    for (const [i, p] of set.params.entries()) bounds[i] = (bounds[i] as number) + ref.boundAfterStep(p, t);
  }
  const out = [];
  for (const [i, p] of set.params.entries()) {
    out.push({
      name: p.name,
      error: maxAbsDiff(await set.read(p), p.ref),
      bound: bounds[i] as number,
      moved: maxAbsDiff(p.p0, p.ref),
    });
  }
  if (process.env.OPTIM_BOUNDS)
    console.log(out.map((o) => `${o.name}: error/bound ${(o.error / o.bound).toExponential(2)}`).join(', '));
  return out;
}

/** The learning rates of the reference comparisons, one a step. */
export const LRS = [1e-3, 3e-3, 1e-2, 5e-3, 2e-3];

/**
 * compareWithReference over LRS on fresh parameters of `shapes` at a fresh seed, expecting each
 * parameter within its bound and moved by more than 100 bounds; the seed is in every message.
 * Destroys `opt` and the parameters after.
 */
export async function expectFollowsReference(
  rt: GpuRuntime,
  shapes: readonly Shape[],
  opt: Optimizer,
  ref: ReferenceRun,
): Promise<void> {
  const seed = freshSeed();
  const random = new Random(seed);
  const set = await TestParams.create(rt, random, shapes);
  try {
    for (const r of await compareWithReference(rt, opt, ref, set, random, LRS)) {
      expect(r.error, `${r.name} seed ${seed}`).toBeLessThanOrEqual(r.bound);
      expect(r.moved, `${r.name} seed ${seed}`).toBeGreaterThan(100 * r.bound);
    }
  } finally {
    opt.destroy();
    set.destroy();
  }
}

/**
 * Steps `opt` once on AWKWARD and expects stateBytes() to be `persistent` bytes kept (nothing
 * transient), the ledger's 'optimizer' category to have grown by as much, and destroy() to free it
 * all once the recorded work that uses the buffers is done.
 */
export async function expectStateInLedger(rt: GpuRuntime, opt: Optimizer, persistent: number): Promise<void> {
  const random = new Random(freshSeed());
  const set = await TestParams.create(rt, random, AWKWARD);
  const before = rt.ledger.bytesIn('optimizer');
  set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
  await opt.step(rt, set.slots, 1e-3);
  expect(opt.stateBytes()).toEqual({ persistent, transient: 0 });
  expect(rt.ledger.snapshot().byCategory.optimizer ?? 0).toBe(before + persistent);
  opt.destroy();
  // Destruction waits for the recorded work that uses the buffers.
  await rt.sync();
  expect(rt.ledger.bytesIn('optimizer')).toBe(before);
  set.destroy();
}

/** Two steps of each optimizer `make` gives (fused by default, then with fuseUpTo 0) read back once each: the finiteness check. */
export async function expectOneReadbackPerStep(
  rt: GpuRuntime,
  make: (fuseUpTo: number | undefined) => Optimizer,
): Promise<void> {
  const random = new Random(freshSeed());
  const set = await TestParams.create(rt, random, AWKWARD);
  for (const fuseUpTo of [undefined, 0]) {
    const opt = make(fuseUpTo);
    for (let step = 0; step < 2; step++) {
      set.setGradients((p) => awkwardGradient(random, p.rows, p.cols));
      const before = rt.counters();
      await opt.step(rt, set.slots, 1e-3);
      await rt.sync();
      expect(countersSince(rt.counters(), before).readbacks).toBe(1);
    }
    opt.destroy();
  }
  set.destroy();
}
