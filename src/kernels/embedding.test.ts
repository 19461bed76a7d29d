import { describe, expect, it } from 'vitest';
import { withKernelRuntimes } from '../host/testRuntimes';
import { embedding } from './embedding';
import { Random } from './random';
import { scratch } from './testing';

// Bad ids, strided output and argument errors; the suite covers the values on random ids.
describe('embedding', () => {
  const { full, both } = withKernelRuntimes();

  for (const [label, runtime] of both) {
    it(`writes NaN for ids past the vocabulary and copies the rest (${label})`, async () => {
      const r = runtime();
      const vocab = 41;
      const width = 23;
      const table = new Random(7).uniform(vocab * width);
      const ids = Uint32Array.of(3, vocab, 0, 0xffffffff, vocab - 1, vocab + 100);
      const out = await scratch(r, new Float32Array(ids.length * width).fill(1));
      await embedding(r, {
        ids: await scratch(r, ids),
        table: await scratch(r, table),
        out,
        tokens: ids.length,
        vocab,
        width,
      });
      const got = await r.readF32(out);
      ids.forEach((id, t) => {
        const row = got.subarray(t * width, (t + 1) * width);
        if (id < vocab) expect(row).toEqual(table.subarray(id * width, (id + 1) * width));
        else expect(row.every(Number.isNaN), `token ${t} (id ${id})`).toBe(true);
      });
    });
  }

  it('writes a column block of a wider output (ldOut, offsets) and leaves the rest alone', async () => {
    const rt = full();
    const vocab = 10;
    const width = 6;
    const ld = 11;
    const table = new Random(3).uniform(vocab * width + 5);
    const ids = Uint32Array.of(9, 2, 2, 0);
    const before = new Float32Array(2 + ids.length * ld).fill(-7);
    const out = await scratch(rt, before);
    await embedding(rt, {
      ids: await scratch(rt, Uint32Array.of(99, ...ids)),
      table: await scratch(rt, table),
      out,
      tokens: ids.length,
      vocab,
      width,
      ldOut: ld,
      offsetIds: 1,
      offsetTable: 5,
      offsetOut: 2,
    });
    const got = await rt.readF32(out);
    const expected = before.slice();
    for (const [t, id] of ids.entries()) {
      expected.set(table.subarray(5 + id * width, 5 + (id + 1) * width), 2 + t * ld);
    }
    expect(got).toEqual(expected);
  });

  it('names the argument that is wrong', async () => {
    const rt = full();
    const table = await scratch(rt, new Float32Array(40));
    const ids = await scratch(rt, new Uint32Array(4));
    const out = await scratch(rt, new Float32Array(16));
    const base = { ids, table, out, tokens: 4, vocab: 10, width: 4 };
    await expect(embedding(rt, { ...base, tokens: 5 })).rejects.toThrow(/embedding: ids .* needs 20 bytes/);
    await expect(embedding(rt, { ...base, vocab: 11 })).rejects.toThrow(/embedding: table \(11×4/);
    await expect(embedding(rt, { ...base, width: 5 })).rejects.toThrow(RangeError);
    await expect(embedding(rt, { ...base, vocab: 0 })).rejects.toThrow(/vocab must be an integer ≥ 1/);
    await expect(embedding(rt, { ...base, out: table })).rejects.toThrow(/out must be a different buffer/);
    await expect(embedding(rt, { ...base, ldOut: 3 })).rejects.toThrow(/out leading dimension 3/);
  });
});
