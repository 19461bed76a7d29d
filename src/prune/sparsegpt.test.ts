import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { freshSeed, Random } from '../kernels/random';
import { cholesky, inverseFromCholesky, NotPositiveDefiniteError, upperCholesky } from './cholesky';
import { crossGram64, tokenError64 } from './fista.reference';
import type { SparsityPattern } from './options';
import { SingularHessianError, sparseGpt } from './sparsegpt';
import { sparseGptReference } from './sparsegpt.reference';

describe('float64 Cholesky helpers', () => {
  it('factor, invert and take the upper factor of a random SPD matrix', () => {
    const seed = freshSeed();
    const n = 9;
    const x = new Random(seed).uniform(3 * n * n);
    const a = crossGram64(x, x, 3 * n, n);
    const l = cholesky(a, n);
    const inv = inverseFromCholesky(l, n);
    const u = upperCholesky(inv, n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let llt = 0;
        let eye = 0;
        let utu = 0;
        for (let k = 0; k < n; k++) {
          llt += (l[i * n + k] as number) * (l[j * n + k] as number);
          eye += (a[i * n + k] as number) * (inv[k * n + j] as number);
          utu += (u[k * n + i] as number) * (u[k * n + j] as number);
        }
        // f64 factorizations of a well-conditioned 9×9: errors near 1e-14 relative.
        expect(Math.abs(llt - (a[i * n + j] as number)), `seed ${seed}`).toBeLessThan(1e-10);
        expect(Math.abs(eye - (i === j ? 1 : 0)), `seed ${seed}`).toBeLessThan(1e-10);
        expect(Math.abs(utu - (inv[i * n + j] as number)), `seed ${seed}`).toBeLessThan(1e-10);
        if (j > i) expect(u[j * n + i]).toBe(0);
      }
    expect(() => cholesky(new Float64Array([1, 2, 2, 1]), 2)).toThrow(NotPositiveDefiniteError);
  });
});

describe('SparseGPT on the GPU', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
  });
  afterAll(() => rt.destroy());

  const cases: [string, number, number, number, SparsityPattern][] = [
    ['50% unstructured, several blocks', 37, 48, 16, { kind: 'unstructured', sparsity: 0.5 }],
    ['50% unstructured, a partial last block', 13, 40, 16, { kind: 'unstructured', sparsity: 0.5 }],
    ['2:4, several blocks', 37, 48, 16, { kind: 'nm', n: 2, m: 4 }],
    ['1:4, partial last block', 11, 40, 16, { kind: 'nm', n: 1, m: 4 }],
  ];
  for (const [name, rows, cols, blocksize, pattern] of cases) {
    it(`matches the float64 reference: ${name}`, async () => {
      const seed = freshSeed();
      const random = new Random(seed);
      const tokens = 3 * cols;
      const x = random.uniform(tokens * cols);
      const w = random.uniform(rows * cols);
      const h = crossGram64(x, x, tokens, cols);
      const wBuffer = await rt.upload('w', 'scratch', w);
      const hBuffer = await rt.upload('h', 'scratch', Float32Array.from(h));
      const result = await sparseGpt(rt, {
        w: wBuffer.buffer,
        rows,
        cols,
        hessian: hBuffer.buffer,
        pattern,
        options: { percdamp: 0.01, blocksize },
      });
      const gpu = await rt.readF32(wBuffer.buffer);
      wBuffer.destroy();
      hBuffer.destroy();
      expect(result).toEqual({ damping: 0.01, deadColumns: 0 });
      // The reference on the same f32-rounded Hessian the GPU read.
      const reference = sparseGptReference(w, rows, cols, Float32Array.from(h), pattern, 0.01, blocksize);
      let scale = 0;
      for (const v of reference.w) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < rows * cols; i++) {
        expect(gpu[i] === 0, `mask at ${i}, seed ${seed}`).toBe(reference.mask[i] === 1);
        // f32 storage of U (2⁻²⁴ relative) and f32 updates accumulated along a row through up to
        // `cols` columns: (cols + 8)·2⁻²⁴ relative to the largest weight, times 4 for the growth of
        // the updates (|err·U| stays within a few weights on these well-conditioned Hessians).
        expect(
          Math.abs((gpu[i] as number) - (reference.w[i] as number)),
          `weight ${i}, seed ${seed}`,
        ).toBeLessThanOrEqual(4 * (cols + 8) * 2 ** -24 * scale);
      }
      if (pattern.kind === 'nm') {
        for (let i = 0; i < rows * cols; i += pattern.m)
          expect(Array.from(gpu.subarray(i, i + pattern.m)).filter((v) => v !== 0).length).toBe(pattern.n);
      } else {
        for (let c0 = 0; c0 < cols; c0 += blocksize) {
          const b = Math.min(blocksize, cols - c0);
          let zeros = 0;
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < b; j++) if (gpu[r * cols + c0 + j] === 0) zeros++;
          expect(zeros, `block at ${c0}, seed ${seed}`).toBe(Math.floor(rows * b * pattern.sparsity));
        }
      }
      // Better reconstruction than magnitude pruning at the same pattern (per block of the same
      // count, or per group of M).
      const magnitude = Float32Array.from(w);
      const groups: number[][] = [];
      if (pattern.kind === 'nm') {
        for (let i = 0; i < rows * cols; i += pattern.m)
          groups.push(Array.from({ length: pattern.m }, (_, k) => i + k));
      } else {
        groups.push(Array.from(magnitude.keys()));
      }
      for (const g of groups) {
        const order = g.sort((a, b) => Math.abs(magnitude[a] as number) - Math.abs(magnitude[b] as number));
        const prune = pattern.kind === 'nm' ? pattern.m - pattern.n : gpu.filter((v) => v === 0).length;
        for (const i of order.slice(0, prune)) magnitude[i] = 0;
      }
      expect(tokenError64(gpu, w, x, x, rows, cols, tokens), `seed ${seed}`).toBeLessThan(
        tokenError64(magnitude, w, x, x, rows, cols, tokens),
      );
    });
  }

  it('zeroes dead inputs, raises damping for a singular Hessian, and gives up with a message', async () => {
    const rows = 5;
    const cols = 8;
    const random = new Random(freshSeed());
    // Column 3 never fires; 6 tokens for 8 inputs: H is singular, the damping makes it definite.
    const x = random.uniform(6 * cols);
    for (let t = 0; t < 6; t++) x[t * cols + 3] = 0;
    const h = crossGram64(x, x, 6, cols);
    const w = await rt.upload('w', 'scratch', random.uniform(rows * cols));
    const hb = await rt.upload('h', 'scratch', Float32Array.from(h));
    const result = await sparseGpt(rt, {
      w: w.buffer,
      rows,
      cols,
      hessian: hb.buffer,
      pattern: { kind: 'nm', n: 2, m: 4 },
      options: { percdamp: 0.01, blocksize: 8 },
    });
    expect(result.deadColumns).toBe(1);
    const out = await rt.readF32(w.buffer);
    for (let r = 0; r < rows; r++) expect(out[r * cols + 3]).toBe(0);
    // An indefinite "Hessian" (negative diagonal entries) fails at every damping.
    const bad = new Float32Array(cols * cols);
    for (let i = 0; i < cols; i++) bad[i * cols + i] = i % 2 === 0 ? 1 : -5;
    const badBuffer = await rt.upload('bad h', 'scratch', bad);
    await expect(
      sparseGpt(rt, {
        w: w.buffer,
        rows,
        cols,
        hessian: badBuffer.buffer,
        pattern: { kind: 'nm', n: 2, m: 4 },
        options: { percdamp: 0.01, blocksize: 8 },
      }),
    ).rejects.toThrow(SingularHessianError);
    for (const b of [w, hb, badBuffer]) b.destroy();
  });
});
