import { describe, expect, it } from 'vitest';
import { GpuLimitError } from '../gpu/errors';
import { withKernelRuntimes } from '../host/testRuntimes';
import { freshSeed, Random } from '../kernels/random';
import { F32_EPS, matmulReference } from '../kernels/reference';
import { scratch } from '../kernels/testing';
import { randomUnstructuredDense } from './randomSparse';
import { decodeSliced, encodeSliced, SLICE_ROWS, slicedBytes, validateSliced } from './slicedFormat';
import { slicedMatvec, slicedMatvecBlocks, slicedMatvecBound, slicedMostSlots } from './slicedMatvec';
import { expectAssignedAndAccumulated } from './testing';
import { uploadSliced } from './upload';

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const arrayBytes = (...arrays: ArrayBufferView[]) => arrays.reduce((s, a) => s + a.byteLength, 0);

describe('sliced format', () => {
  it('decodes bit for bit at awkward shapes and densities and counts its bytes exactly', () => {
    for (const [rows, cols, density] of [
      [7, 12, 0.5],
      [33, 20, 0.3],
      [1, 1, 1],
      [9, 97, 0.5],
      [3, 64, 0],
      [17, 33, 0.9],
      // Gaps longer than 15 columns: bridged by +0 entries.
      [10, 300, 0.03],
    ] as const) {
      const seed = freshSeed();
      const dense = randomUnstructuredDense(new Random(seed), rows, cols, density);
      // A −0 and a NaN with a payload are values like any other.
      bitsOf(dense)[0] = 0x80000000;
      bitsOf(dense)[rows * cols - 1] = 0x7fc0beef;
      const m = encodeSliced('w', dense, rows, cols);
      const what = `${rows}×${cols} density ${density} seed ${seed}`;
      expect(Array.from(bitsOf(decodeSliced(m))), what).toEqual(Array.from(bitsOf(dense)));
      expect(arrayBytes(m.sliceStarts, m.steps, m.values), what).toBe(slicedBytes(rows, m.steps.length));
      // Each slice is as long as its longest row's entries: at least its most stored values.
      for (let s = 0; s * SLICE_ROWS < rows; s++) {
        let most = 0;
        for (let r = s * SLICE_ROWS; r < Math.min(rows, (s + 1) * SLICE_ROWS); r++)
          most = Math.max(
            most,
            bitsOf(dense.subarray(r * cols, (r + 1) * cols)).filter((b) => b !== 0).length,
          );
        expect((m.sliceStarts[s + 1] as number) - (m.sliceStarts[s] as number), what).toBeGreaterThanOrEqual(
          most,
        );
      }
    }
  });

  it('bridges long gaps with +0 entries and pads short rows', () => {
    // Row 0 stores columns 0 and 19 (a gap of 19: one bridge of 15, then a step of 4), row 1
    // column 3; the slice's 6 other rows do not exist.
    const dense = new Float32Array(2 * 20);
    [dense[0], dense[19], dense[23]] = [1, 2, 3];
    const m = encodeSliced('w', dense, 2, 20);
    expect(Array.from(m.sliceStarts)).toEqual([0, 3]);
    expect(Array.from(m.steps)).toEqual([0 | (3 << 4), 15, 4]);
    expect(Array.from(m.values.filter((_, i) => i % SLICE_ROWS === 0))).toEqual([1, 0, 2]);
    expect(Array.from(m.values.filter((_, i) => i % SLICE_ROWS === 1))).toEqual([3, 0, 0]);
    expect(slicedBytes(2, 3)).toBe(4 * 2 + 36 * 3);
  });

  it('refuses inconsistent arrays, naming the tensor', () => {
    // 9 rows: two slices, the second with one row. Row 0 stores columns 0 and 19 (slots 0–2).
    const dense = new Float32Array(9 * 20);
    [dense[0], dense[19], dense[8 * 20 + 5]] = [1, 2, 3];
    const good = encodeSliced('mlp', dense, 9, 20);
    const mutate = (f: (m: typeof good) => void) => {
      const copy = {
        ...good,
        sliceStarts: good.sliceStarts.slice(),
        steps: good.steps.slice(),
        values: good.values.slice(),
      };
      f(copy);
      return () => validateSliced(copy);
    };
    expect(mutate(() => {})).not.toThrow();
    expect(mutate((m) => (m.steps[2] = (m.steps[2] as number) + 1))).toThrow(
      /mlp: row 0, slot 2: its steps reach column 20, past the last column 19/,
    );
    expect(
      mutate((m) => {
        m.steps[1] = 0;
        m.values[SLICE_ROWS] = 5;
      }),
    ).toThrow(/mlp: row 0: a second stored value at column 0/);
    expect(mutate((m) => (m.values[SLICE_ROWS * 3 + 1] = 1))).toThrow(
      /mlp: row 9, past the last row 8, stores a value at column 0/,
    );
    expect(mutate((m) => (m.sliceStarts[0] = 1))).toThrow(/mlp: slice starts begin at 1, not 0/);
    expect(mutate((m) => (m.sliceStarts[1] = 5))).toThrow(
      /mlp: slice 2 starts at slot 4, before slice 1 \(5\)/,
    );
    expect(mutate((m) => (m.steps = m.steps.subarray(1)))).toThrow(
      /mlp: slice starts end at 4 but there are 3 slots/,
    );
    expect(mutate((m) => (m.values = m.values.subarray(1)))).toThrow(
      /mlp: 31 values, but 4 slots of 8 rows hold 32/,
    );
    expect(mutate((m) => (m.sliceStarts = m.sliceStarts.subarray(1)))).toThrow(
      /mlp: 2 slice starts, but 9 rows in slices of 8 need 3/,
    );
  });
});

describe('slicedMatvec', () => {
  // 2 KiB bindings hold 448 elements (56 slots of values) and 3 workgroups per dimension fold the
  // grid: W is split into blocks of slices.
  const { full, tiny, both } = withKernelRuntimes();

  for (const [label, which] of both) {
    it(`y = W·x matches float64 at awkward shapes and densities (${label})`, async () => {
      const r = which();
      const shapes: [number, number, number][] = [
        [1, 1, 1],
        [7, 12, 0.5],
        [33, 20, 0.5],
        [131, 45, 0.3],
        // No stored value at all: no slot.
        [6, 40, 0],
        // Long gaps: bridges.
        [3, 400, 0.02],
        [67, 33, 0.9],
        [9, 50, 1],
        // 75 slices: more than one workgroup of 64 invocations, a partial last slice.
        [597, 21, 0.5],
        // Only rows 448–471 store values (below): under 2 KiB bindings (56 slices a block) the
        // first and the last blocks have no slot.
        [920, 30, 0.5],
      ];
      if (r === full()) shapes.push([3, 4500, 0.5], [70, 768, 0.5]);
      for (const [rows, cols, density] of shapes) {
        const seed = freshSeed();
        const random = new Random(seed);
        const dense = randomUnstructuredDense(random, rows, cols, density);
        // An empty and a full row where the tiny bindings still hold a slice.
        if (rows >= 3 && cols <= 50 && density > 0) {
          dense.fill(0, 0, cols);
          dense.set(random.uniform(cols), 2 * cols);
        }
        if (rows === 920) {
          dense.fill(0, 0, 448 * cols);
          dense.fill(0, 472 * cols);
        }
        const x = random.uniform(cols);
        const y0 = random.uniform(rows);
        const w = await uploadSliced(r, encodeSliced('w', dense, rows, cols), 'w');
        const ref = matmulReference({ a: dense, b: x, m: rows, n: 1, k: cols });
        const bound = slicedMatvecBound(slicedMostSlots(w)) * F32_EPS;
        const what = `${rows}×${cols} density ${density} seed ${seed}`;
        await expectAssignedAndAccumulated(r, { x, y0, ref, bound, what }, (io) =>
          slicedMatvec(r, { weights: w, ...io }),
        );
        if (r === tiny() && rows >= 131) expect(slicedMatvecBlocks(r, w).length, what).toBeGreaterThan(1);
        if (r === tiny() && rows === 920) {
          const starts = w.hostSliceStarts;
          const empty = slicedMatvecBlocks(r, w).filter(([s0, s1]) => starts[s0] === starts[s1]);
          expect(empty.length, what).toBe(2);
        }
        w.destroy();
      }
    });
  }

  it('reads x and writes y at offsets inside larger buffers', async () => {
    const rt = tiny();
    const seed = freshSeed();
    const random = new Random(seed);
    const [rows, cols, offsetX, offsetY] = [45, 30, 77, 130];
    const dense = randomUnstructuredDense(random, rows, cols, 0.5);
    const w = await uploadSliced(rt, encodeSliced('w', dense, rows, cols), 'w');
    const xAll = random.uniform(offsetX + cols + 9);
    const yAll = random.uniform(offsetY + rows + 11);
    const y = await scratch(rt, yAll);
    await slicedMatvec(rt, { weights: w, x: await scratch(rt, xAll), y, offsetX, offsetY });
    const out = await rt.readF32(y);
    const ref = matmulReference({
      a: dense,
      b: xAll.subarray(offsetX, offsetX + cols),
      m: rows,
      n: 1,
      k: cols,
    });
    const bound = slicedMatvecBound(slicedMostSlots(w)) * F32_EPS;
    for (let i = 0; i < rows; i++)
      expect(
        Math.abs((out[offsetY + i] as number) - (ref.value[i] as number)),
        `row ${i} seed ${seed}`,
      ).toBeLessThanOrEqual(bound * (ref.scale[i] as number));
    // Everything outside y's rows is untouched.
    expect(Array.from(out.subarray(0, offsetY))).toEqual(Array.from(yAll.subarray(0, offsetY)));
    expect(Array.from(out.subarray(offsetY + rows))).toEqual(Array.from(yAll.subarray(offsetY + rows)));
    w.destroy();
  });

  it('uploads exactly the format’s bytes as weights, refuses invalid arrays and slices wider than a binding', async () => {
    const [rt, small] = [full(), tiny()];
    const random = new Random(freshSeed());
    const before = rt.ledger.bytesIn('weights');
    const matrix = encodeSliced('k', randomUnstructuredDense(random, 10, 70, 0.5), 10, 70);
    const w = await uploadSliced(rt, matrix, 'k');
    expect(rt.ledger.bytesIn('weights') - before).toBe(slicedBytes(10, matrix.steps.length));
    expect(w.bytes).toBe(slicedBytes(10, matrix.steps.length));
    w.destroy();
    expect(rt.ledger.bytesIn('weights')).toBe(before);
    // Invalid arrays never reach the GPU.
    await expect(
      uploadSliced(rt, { ...matrix, sliceStarts: new Uint32Array([0, 1, 1]) }, 'k'),
    ).rejects.toThrow(/k: slice starts end at 1 but there are \d+ slots/);
    // 8 full rows of 200 columns: one slice of 1600 values, more than a 2 KiB binding holds.
    const wide = await uploadSliced(small, encodeSliced('wide', random.uniform(8 * 200), 8, 200), 'wide');
    await expect(
      slicedMatvec(small, {
        weights: wide,
        x: await scratch(small, random.uniform(200)),
        y: await scratch(small, new Float32Array(8)),
      }),
    ).rejects.toThrow(GpuLimitError);
    await expect(
      slicedMatvec(small, {
        weights: wide,
        x: await scratch(small, random.uniform(200)),
        y: await scratch(small, new Float32Array(8)),
      }),
    ).rejects.toThrow(/slice 0 of wide \(rows 0–7\) has more values than one storage binding holds/);
    wide.destroy();
  });
});
