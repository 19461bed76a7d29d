// The pruning mask kernels against their sort-based references, on fresh seeded inputs (the seed is
// in every failure message). Masks are exact, so they must be identical to the reference, ties
// included; the Wanda score is checked within its rounding bound.

import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { TINY_LIMITS, withNodeRuntime } from '../host/testRuntimes';
import { freshSeed, Random } from '../kernels/random';
import { applyKeep, magnitudeScores, nmMask, rowMask, wandaScores } from './masks';
import { nmMaskReference, rowMaskReference, wandaScoresReference } from './masks.reference';

/** Index of the first difference, or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

async function upload(rt: GpuRuntime, data: Float32Array | Uint32Array): Promise<GPUBuffer> {
  return (await rt.upload('masks test', 'scratch', data)).buffer;
}

async function readU32(rt: GpuRuntime, buffer: GPUBuffer): Promise<Uint32Array> {
  return new Uint32Array(await rt.read(buffer));
}

/** A keep buffer poisoned with a value that is neither 0 nor 1, so an unwritten entry shows. */
function poisoned(n: number): Uint32Array {
  return new Uint32Array(n).fill(7);
}

/** Non-negative scores with many ties: integers 0..range. */
function tiedScores(random: Random, n: number, range: number): Float32Array {
  return random.integers(n, range).map(Math.abs);
}

async function checkRowMask(
  rt: GpuRuntime,
  label: string,
  scores: Float32Array,
  rows: number,
  cols: number,
  prunes: readonly number[],
  offsets = { scores: 0, keep: 0 },
) {
  const padded = new Float32Array(offsets.scores + rows * cols);
  padded.set(scores, offsets.scores);
  const scoresBuf = await upload(rt, padded);
  for (const prune of prunes) {
    const keepBuf = await upload(rt, poisoned(offsets.keep + rows * cols));
    await rowMask(rt, {
      scores: scoresBuf,
      keep: keepBuf,
      rows,
      cols,
      prune,
      offsetScores: offsets.scores,
      offsetKeep: offsets.keep,
    });
    const all = await readU32(rt, keepBuf);
    const what = `${label} ${rows}×${cols} prune ${prune}`;
    expect(
      firstDifference(all.subarray(0, offsets.keep), poisoned(offsets.keep)),
      `${what}: wrote before the offset`,
    ).toBe(-1);
    const got = all.subarray(offsets.keep);
    expect(firstDifference(got, rowMaskReference(scores, rows, cols, prune)), what).toBe(-1);
    for (let r = 0; r < rows; r++) {
      let kept = 0;
      for (let j = 0; j < cols; j++) kept += got[r * cols + j] as number;
      expect(kept, `${what}: row ${r}`).toBe(cols - prune);
    }
  }
}

async function checkNmMask(
  rt: GpuRuntime,
  label: string,
  scores: Float32Array,
  rows: number,
  cols: number,
  n: number,
  m: number,
  offsets = { scores: 0, keep: 0 },
) {
  const padded = new Float32Array(offsets.scores + rows * cols);
  padded.set(scores, offsets.scores);
  const keepBuf = await upload(rt, poisoned(offsets.keep + rows * cols));
  await nmMask(rt, {
    scores: await upload(rt, padded),
    keep: keepBuf,
    rows,
    cols,
    n,
    m,
    offsetScores: offsets.scores,
    offsetKeep: offsets.keep,
  });
  const got = (await readU32(rt, keepBuf)).subarray(offsets.keep);
  const what = `${label} ${rows}×${cols} ${n}:${m}`;
  expect(firstDifference(got, nmMaskReference(scores, rows, cols, n, m)), what).toBe(-1);
  for (let g = 0; g < (rows * cols) / m; g++) {
    let kept = 0;
    for (let i = 0; i < m; i++) kept += got[g * m + i] as number;
    expect(kept, `${what}: group ${g}`).toBe(n);
  }
}

/** The prune counts worth trying for a row of cols: none, one, all but one, all, and half. */
function prunesFor(cols: number): number[] {
  return [...new Set([0, 1, cols - 1, cols, Math.floor(cols / 2)])].filter((p) => p >= 0 && p <= cols);
}

const ROW_SHAPES = [
  [1, 1],
  [3, 7],
  [37, 129],
  [5, 1000],
  [1, 5003],
] as const;

describe('pruning masks', () => {
  let rt: GpuRuntime;
  withNodeRuntime((made) => {
    rt = made;
  });

  for (const [rows, cols] of ROW_SHAPES) {
    it(`rowMask ${rows}×${cols} matches the reference on distinct and on tied scores`, async () => {
      const seed = freshSeed();
      const random = new Random(seed);
      await checkRowMask(
        rt,
        `uniform seed ${seed}`,
        random.uniform(rows * cols, 0, 1),
        rows,
        cols,
        prunesFor(cols),
      );
      // Integers 0..3: nearly every threshold falls inside a run of ties.
      await checkRowMask(
        rt,
        `ties seed ${seed}`,
        tiedScores(random, rows * cols, 3),
        rows,
        cols,
        prunesFor(cols),
      );
    });
  }

  it('rowMask prunes the lowest columns first in all-equal rows, and honours offsets', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const rows = 6;
    const cols = 301;
    const scores = tiedScores(random, rows * cols, 2);
    // Rows 1 and 4 are all equal (one of them all zero): the prune lowest columns must go.
    scores.fill(0.5, cols, 2 * cols);
    scores.fill(0, 4 * cols, 5 * cols);
    // Unaligned offsets reach the kernel through the windows' base offsets.
    await checkRowMask(rt, `equal rows seed ${seed}`, scores, rows, cols, [0, 1, 150, 300, 301], {
      scores: 5,
      keep: 3,
    });
    const keepBuf = await upload(rt, poisoned(rows * cols));
    await rowMask(rt, { scores: await upload(rt, scores), keep: keepBuf, rows, cols, prune: 17 });
    const got = await readU32(rt, keepBuf);
    for (let j = 0; j < cols; j++) expect(got[cols + j], `column ${j}`).toBe(j < 17 ? 0 : 1);
  });

  it('rowMask ranks zeros of either sign, subnormals, infinities and negatives by value', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const special = [
      0,
      -0,
      1e-45,
      2e-40,
      1.1754943508222875e-38,
      Number.POSITIVE_INFINITY,
      3.4e38,
      1,
      -1,
      -0,
      -1e-45,
    ];
    const cols = 257;
    const scores = new Float32Array(3 * cols);
    for (let i = 0; i < scores.length; i++) {
      scores[i] =
        random.next() < 0.6 ? (special[Math.floor(random.next() * special.length)] as number) : random.next();
    }
    await checkRowMask(rt, `special values seed ${seed}`, scores, 3, cols, [1, 40, 128, 200, 256]);
  });

  it('nmMask keeps exactly n of every m on distinct and on tied scores', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    // 96 columns hold every m below but 64, which gets 128.
    const rows = 37;
    const cols = 96;
    for (const [n, m] of [
      [2, 4],
      [4, 8],
      [1, 3],
      [3, 16],
      [1, 2],
      [5, 64],
    ] as const) {
      const width = m === 64 ? 128 : cols;
      await checkNmMask(rt, `uniform seed ${seed}`, random.uniform(rows * width, 0, 1), rows, width, n, m);
      await checkNmMask(rt, `ties seed ${seed}`, tiedScores(random, rows * width, 2), rows, width, n, m);
    }
    // All-equal groups keep their last n columns; unaligned offsets.
    await checkNmMask(rt, `equal seed ${seed}`, new Float32Array(5 * 24).fill(1), 5, 24, 2, 4, {
      scores: 1,
      keep: 6,
    });
  });

  it('magnitudeScores is |w| exactly and wandaScores is within 2⁻²³ of the float64 score', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const rows = 37;
    const cols = 45;
    const w = random.uniform(rows * cols, -3, 3);
    w[0] = -0;
    w[1] = 0;
    const gram = random.uniform(cols * cols, 0.01, 50);
    gram[0] = 0;
    gram[cols + 1] = -1e-3; // a rounding-negative diagonal entry clamps to 0
    const wBuf = await upload(rt, w);
    const outBuf = await upload(rt, new Float32Array(rows * cols).fill(Number.NaN));
    await magnitudeScores(rt, { w: wBuf, count: rows * cols, out: outBuf });
    const magnitude = await rt.readF32(outBuf);
    expect(firstDifference(magnitude, w.map(Math.abs)), `magnitude seed ${seed}`).toBe(-1);

    rt.write(outBuf, new Float32Array(rows * cols).fill(Number.NaN));
    await wandaScores(rt, { w: wBuf, gram: await upload(rt, gram), rows, cols, out: outBuf });
    const got = await rt.readF32(outBuf);
    const want = wandaScoresReference(w, gram, rows, cols);
    // sqrt and the product each round once to nearest, a relative error of at most u/(1 + u) each
    // (u = 2⁻²⁴), so the total is (1 + u/(1 + u))² − 1 < 2u = 2⁻²³ (no subnormals arise here).
    for (let i = 0; i < got.length; i++) {
      const error = Math.abs((got[i] as number) - (want[i] as number));
      expect(error, `wanda seed ${seed} element ${i}`).toBeLessThanOrEqual(2 ** -23 * (want[i] as number));
    }
  });

  it('applyKeep zeroes exactly the pruned weights', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const count = 3001;
    const w = random.uniform(count + 2, -1, 1);
    const keep = new Uint32Array(count + 5);
    for (let i = 0; i < keep.length; i++) keep[i] = random.next() < 0.5 ? 1 : 0;
    const wBuf = await upload(rt, w);
    await applyKeep(rt, { w: wBuf, keep: await upload(rt, keep), count, offsetW: 2, offsetKeep: 5 });
    const want = w.map((x, i) => (i < 2 || keep[i + 3] ? x : 0));
    expect(firstDifference(await rt.readF32(wBuf), want), `applyKeep seed ${seed}`).toBe(-1);
  });

  it('rejects bad arguments with RangeErrors', async () => {
    const scores = await upload(rt, new Float32Array(64));
    const keep = await upload(rt, new Uint32Array(64));
    await expect(rowMask(rt, { scores, keep, rows: 2, cols: 8, prune: 9 })).rejects.toThrow(RangeError);
    await expect(rowMask(rt, { scores, keep, rows: 9, cols: 8, prune: 1 })).rejects.toThrow(RangeError);
    await expect(rowMask(rt, { scores, keep: scores, rows: 2, cols: 8, prune: 1 })).rejects.toThrow(
      RangeError,
    );
    const nm = { scores, keep, rows: 2, cols: 8 };
    await expect(nmMask(rt, { ...nm, n: 4, m: 4 })).rejects.toThrow(/N < M/);
    await expect(nmMask(rt, { ...nm, n: 0, m: 4 })).rejects.toThrow(RangeError);
    await expect(nmMask(rt, { ...nm, n: 1, m: 3 })).rejects.toThrow(/does not divide/);
    await expect(nmMask(rt, { ...nm, rows: 1, cols: 128, n: 1, m: 128 })).rejects.toThrow(
      /largest supported/,
    );
  });
});

describe('pruning masks under a tiny binding limit and workgroup grid', () => {
  let rt: GpuRuntime;
  // 2 KiB bindings (a few hundred elements) and 3 workgroups per dimension: every kernel splits
  // into windows and folds its grid.
  withNodeRuntime((made) => {
    rt = made;
  }, TINY_LIMITS);

  it('rowMask and nmMask match the reference across windows and a folded grid', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    // Rows of 37: 9 rows per window (the folded 3 × 3 grid), 5 windows.
    await checkRowMask(rt, `tiny seed ${seed}`, tiedScores(random, 41 * 37, 4), 41, 37, [0, 1, 18, 37], {
      scores: 3,
      keep: 1,
    });
    // One row as long as a binding allows, and more than 256 columns (several chunks per invocation).
    const capacity = (2048 - rt.limits.minStorageBufferOffsetAlignment) / 4;
    await checkRowMask(rt, `tiny long row seed ${seed}`, tiedScores(random, capacity, 5), 1, capacity, [
      1,
      100,
      capacity - 1,
    ]);
    // 1:2 on 7 × 200: more than 3 workgroups per window, so the grid folds.
    await checkNmMask(rt, `tiny seed ${seed}`, tiedScores(random, 7 * 200, 3), 7, 200, 1, 2, {
      scores: 2,
      keep: 5,
    });
    await checkNmMask(rt, `tiny seed ${seed}`, random.uniform(9 * 64), 9, 64, 3, 16);
  });

  it('applyKeep, magnitudeScores and wandaScores work in windows', async () => {
    const seed = freshSeed();
    const random = new Random(seed);
    const count = 3001;
    const w = random.uniform(count, -1, 1);
    const keep = new Uint32Array(count).map(() => (random.next() < 0.3 ? 1 : 0));
    const wBuf = await upload(rt, w);
    const outBuf = await upload(rt, new Float32Array(count).fill(Number.NaN));
    await magnitudeScores(rt, { w: wBuf, count, out: outBuf });
    expect(firstDifference(await rt.readF32(outBuf), w.map(Math.abs)), `magnitude seed ${seed}`).toBe(-1);
    await applyKeep(rt, { w: wBuf, keep: await upload(rt, keep), count });
    expect(
      firstDifference(
        await rt.readF32(wBuf),
        w.map((x, i) => (keep[i] ? x : 0)),
      ),
      `applyKeep seed ${seed}`,
    ).toBe(-1);

    // 500 columns: a row wider than a binding is split into column blocks, and the Gram's diagonal
    // (stride 501) takes one window per element.
    for (const [rows, cols] of [
      [13, 37],
      [3, 500],
    ] as const) {
      const wm = random.uniform(rows * cols, -2, 2);
      const gram = random.uniform(cols * cols, 0.1, 10);
      const out = await upload(rt, new Float32Array(rows * cols).fill(Number.NaN));
      await wandaScores(rt, { w: await upload(rt, wm), gram: await upload(rt, gram), rows, cols, out });
      const got = await rt.readF32(out);
      const want = wandaScoresReference(wm, gram, rows, cols);
      for (let i = 0; i < got.length; i++) {
        // The bound derived in the full-limits test.
        const error = Math.abs((got[i] as number) - (want[i] as number));
        expect(error, `wanda ${rows}×${cols} seed ${seed} element ${i}`).toBeLessThanOrEqual(
          2 ** -23 * (want[i] as number),
        );
      }
    }
  });

  it('refuses a row longer than one binding, naming the sizes', async () => {
    const cols = 600;
    const scores = await upload(rt, new Float32Array(cols));
    const keep = await upload(rt, new Uint32Array(cols));
    const error = await rowMask(rt, { scores, keep, rows: 1, cols, prune: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect(String(error)).toMatch(/2400 bytes.*2048 bytes.*per row/);
  });
});
