import { describe, expect, it } from 'vitest';
import { withKernelRuntimes } from '../host/testRuntimes';
import { embedding, embeddingDispatches } from './embedding';
import { decodeHalves, floatToBf16Bits, floatToHalfBits } from './halfFloat';
import { matmul, matmulDispatches } from './matmul';
import { MATMUL_KERNELS } from './matmulKernel';
import { freshSeed, Random } from './random';
import { F32_EPS, matmulReference, relativeError } from './reference';
import { embeddingBound, embeddingReference } from './reference.model';
import { scratch } from './testing';

// Matmul's B and the embedding table stored as F16 or BF16, two per u32 word, against float64
// references computed from the decoded 16-bit values. Decoding is exact, so the bounds are those of
// the f32 kernels: (k + 2) roundings per matmul element, none for a copied embedding row.

type Half = 'f16' | 'bf16';

/**
 * n random 16-bit values of a format, as stored bits and as the f32 values they decode to. F16
 * subnormals are avoided: WGSL lets an implementation flush them in unpack2x16float, and weights
 * below 2^-14 are too rare to matter for a model.
 */
function randomHalves(type: Half, random: Random, n: number): { bits: Uint16Array; values: Float32Array } {
  const bits = Uint16Array.from(random.uniform(n), type === 'f16' ? floatToHalfBits : floatToBf16Bits);
  if (type === 'f16') for (let i = 0; i < n; i++) if (((bits[i] as number) & 0x7c00) === 0) bits[i] = 0x3c00;
  return { bits, values: decodeHalves(type === 'f16' ? 'F16' : 'BF16', bits) };
}

/** Packs 16-bit bits two per word (element 2w low), padding an odd count with a zero half. */
function packWords(bits: Uint16Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(bits.length / 2));
  new Uint16Array(words.buffer).set(bits);
  return words;
}

interface MatmulCase {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Elements before B, and extra elements per stored row of B beyond its width. */
  offsetB: number;
  padB: number;
  withBeta: boolean;
}

const CASES: MatmulCase[] = [
  // A·Bᵀ is how every linear layer and the head use a weight stored out × in.
  { m: 37, n: 29, k: 41, transA: false, transB: true, offsetB: 3, padB: 0, withBeta: false },
  { m: 5, n: 31, k: 27, transA: false, transB: true, offsetB: 6, padB: 3, withBeta: true },
  { m: 23, n: 31, k: 19, transA: false, transB: false, offsetB: 1, padB: 2, withBeta: true },
  { m: 29, n: 17, k: 33, transA: true, transB: false, offsetB: 0, padB: 1, withBeta: false },
  { m: 13, n: 11, k: 35, transA: true, transB: true, offsetB: 7, padB: 0, withBeta: false },
];

describe('matmul and embedding with packed 16-bit operands', () => {
  // 2 KiB bindings (448 words a window after alignment slack, so 895 elements) force B and the
  // table into several windows, many starting in the high half of a word.
  const { full, tiny, both } = withKernelRuntimes();

  for (const [label, runtime] of both) {
    for (const type of ['f16', 'bf16'] as const) {
      for (const [cs, kernel] of CASES.flatMap((cs) =>
        MATMUL_KERNELS.map((kernel) => [cs, kernel] as const),
      )) {
        const { m, n, k, transA, transB } = cs;
        const layout = `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;
        it(`matmul ${kernel} ${layout} ${m}×${k}·${k}×${n}, ${type} B at offset ${cs.offsetB}, ${label}`, async () => {
          const rt = runtime();
          const seed = freshSeed();
          const random = new Random(seed);
          const [bRows, bCols] = transB ? [n, k] : [k, n];
          const ldb = bCols + cs.padB;
          const stored = randomHalves(type, random, cs.offsetB + (bRows - 1) * ldb + bCols);
          // op(B) as a packed k × n f32 matrix of the decoded values, for the reference.
          const b = new Float32Array(k * n);
          for (let p = 0; p < k; p++)
            for (let j = 0; j < n; j++)
              b[p * n + j] = stored.values[cs.offsetB + (transB ? j * ldb + p : p * ldb + j)] as number;
          const a = random.uniform(m * k);
          const c0 = cs.withBeta ? random.uniform(m * n) : new Float32Array(m * n).fill(Number.NaN);
          const alpha = cs.withBeta ? Math.fround(0.5 + random.next()) : 1;
          const beta = cs.withBeta ? Math.fround(-0.75) : 0;
          const c = await scratch(rt, c0);
          const args = {
            a: await scratch(rt, a),
            b: await scratch(rt, packWords(stored.bits)),
            c,
            m,
            n,
            k,
            transA,
            transB,
            ldb,
            offsetB: cs.offsetB,
            alpha,
            beta,
            bType: type,
            kernel,
          };
          if (rt === tiny()) expect((await matmulDispatches(rt, args)).length).toBeGreaterThan(1);
          await matmul(rt, args);
          const error = relativeError(
            await rt.readF32(c),
            matmulReference({ a, b, c0, m, n, k, transA, alpha, beta }),
          );
          expect(error, `seed ${seed}`).toBeLessThanOrEqual((k + 2) * F32_EPS);
        });
      }

      for (const accumulate of [false, true]) {
        it(`embedding from a ${type} table${accumulate ? ', accumulating' : ''}, ${label}`, async () => {
          const rt = runtime();
          const seed = freshSeed();
          const random = new Random(seed);
          // An odd vocab × width (the buffer's last word half empty) at an odd offset.
          const [vocab, width, offset, tokens] = [97, 41, 5, 23];
          const stored = randomHalves(type, random, offset + vocab * width);
          const table = stored.values.subarray(offset);
          const ids = Uint32Array.from({ length: tokens }, (_, t) =>
            t < 2 ? vocab - 1 - t : Math.floor(random.next() * vocab),
          );
          const out0 = random.uniform(tokens * width);
          const out = await scratch(rt, out0);
          const args = {
            ids: await scratch(rt, ids),
            table: await scratch(rt, packWords(stored.bits)),
            out,
            tokens,
            vocab,
            width,
            accumulate,
            offsetTable: offset,
            tableType: type,
          };
          if (rt === tiny()) expect((await embeddingDispatches(rt, args)).length).toBeGreaterThan(1);
          await embedding(rt, args);
          const error = relativeError(
            await rt.readF32(out),
            embeddingReference(table, width, ids, accumulate ? out0 : undefined),
          );
          expect(error, `seed ${seed}`).toBeLessThanOrEqual(embeddingBound(accumulate));
        });
      }
    }
  }

  it('sizes a packed operand in half words and names its type when the buffer is short', async () => {
    const rt = full();
    // 9 × 7 = 63 f16 elements take 32 words: 128 bytes, where f32 would need 252.
    const b = await scratch(rt, new Uint32Array(32));
    const a = await scratch(rt, new Float32Array(2 * 7));
    const c = await scratch(rt, new Float32Array(2 * 9));
    const base = { a, b, c, m: 2, n: 9, k: 7, transB: true, bType: 'f16' as const };
    await expect(matmul(rt, base)).resolves.toBeUndefined();
    await expect(matmul(rt, { ...base, offsetB: 2 })).rejects.toThrow(
      /matmul B: a 9×7 f16 matrix \(ld 7, offset 2\) needs 132 bytes/,
    );
    await expect(matmul(rt, { ...base, bType: 'f32' })).rejects.toThrow(/needs 252 bytes/);
    await expect(matmul(rt, { ...base, bType: 'f8' as 'f16' })).rejects.toThrow(/storage type f8/);
    const ids = await scratch(rt, new Uint32Array(2));
    const out = await scratch(rt, new Float32Array(2 * 7));
    const emb = { ids, table: b, out, tokens: 2, vocab: 9, width: 7, tableType: 'bf16' as const };
    await expect(embedding(rt, emb)).resolves.toBeUndefined();
    await expect(embedding(rt, { ...emb, vocab: 10 })).rejects.toThrow(/table \(10×7 bf16.* needs 140 bytes/);
  });
});
