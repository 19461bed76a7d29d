import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../../gpu/runtime';
import { IGNORE_TARGET } from '../../kernels/crossEntropy';
import { freshSeed, Random } from '../../kernels/random';
import { F32_EPS } from '../../kernels/reference';
import { crossEntropyReference, rowSumDepth } from '../../kernels/reference.model';
import { onCappedRuntime, sharedRuntime, uploader } from '../runtimeTesting';
import { countedTargets, crossEntropyBackward } from './crossEntropyBackward';
import { centralDifferences, gradientError } from './gradientCheck';

// The gradient is checked against central differences of scale · Σ nll, the float64 forward
// reference of kernels/crossEntropy.ts.
//
// Bound, against `scale` (every |gradient| ≤ scale): a softmax weight p = exp(x − m) · scale / Σ
// carries the error of x − m made relative by exp (≤ |x − m|·ε ≤ 8ε for logits in [−4, 4]), exp's
// own few ulps (≤ 6ε), the sum's chain of rowSumDepth(vocab) additions, the division and the
// product (2ε), and the onehot subtraction rounds once: (depth + 20)ε in all. The differences' own
// error, h²/6 · |∂³nll| ≤ h²/60 with h = 2^-12, is 1e-9 and is checked by Richardson below.
const SHAPES = [
  { rows: 1, vocab: 1 },
  { rows: 1, vocab: 37 },
  { rows: 7, vocab: 101 },
  { rows: 13, vocab: 300 },
];
const H = 2 ** -12;

function drawTargets(random: Random, rows: number, vocab: number): Uint32Array {
  // About one row in five is ignored (padding), but never all of them.
  return Uint32Array.from({ length: rows }, (_, t) =>
    t > 0 && random.next() < 0.2 ? IGNORE_TARGET : Math.floor(random.next() * vocab),
  );
}

describe('cross-entropy backward', () => {
  const gpu = sharedRuntime();

  const upload = uploader('crossEntropyBackward test');

  async function check(r: GpuRuntime, rows: number, vocab: number, inPlace: boolean) {
    const seed = freshSeed();
    const random = new Random(seed);
    const ld = vocab + (inPlace ? 3 : 0);
    const logits = random.uniform(rows * ld, -4, 4);
    const targets = drawTargets(random, rows, vocab);
    const scale = 1 / countedTargets(targets);
    const logitsBuffer = await upload(r, logits);
    const grad = inPlace ? logitsBuffer : await upload(r, new Float32Array(rows * vocab).fill(Number.NaN));
    await crossEntropyBackward(r, {
      logits: logitsBuffer,
      targets: await upload(r, targets),
      grad: inPlace ? undefined : grad,
      rows,
      vocab,
      scale,
      ldLogits: ld,
    });
    const read = await r.readF32(grad);
    const gpu = new Float32Array(rows * vocab);
    for (let t = 0; t < rows; t++) gpu.set(read.subarray(t * ld, t * ld + vocab), t * vocab);

    // The loss is a sum of per-row terms, so each row's slope comes from that row's nll alone.
    const want = new Float64Array(rows * vocab);
    let fdError = 0;
    for (let t = 0; t < rows; t++) {
      const row = logits.slice(t * ld, t * ld + vocab);
      const target = Uint32Array.of(targets[t] as number);
      const d = centralDifferences(
        (x) => scale * (crossEntropyReference(x, 1, vocab, target).value[0] as number),
        row,
        H,
        { estimate: true },
      );
      want.set(d.grad, t * vocab);
      fdError = Math.max(fdError, d.error / scale);
      if (targets[t] === IGNORE_TARGET) {
        for (let j = 0; j < vocab; j++) expect(gpu[t * vocab + j], `ignored row ${t}`).toBe(0);
      }
    }
    const bound = (rowSumDepth(vocab) + 20) * F32_EPS;
    const label = `${rows}×${vocab}${inPlace ? ' in place' : ''} seed ${seed}`;
    expect(fdError, label).toBeLessThan(bound / 10);
    expect(gradientError(gpu, want, { scale }), label).toBeLessThanOrEqual(bound);
  }

  for (const { rows, vocab } of SHAPES) {
    it(`matches differences of the forward for ${rows}×${vocab}`, () => check(gpu.rt, rows, vocab, false));
  }
  it('overwrites strided logits in place', () => check(gpu.rt, 9, 61, true));

  it('sweeps rows in windows under a tiny binding limit', async () => {
    await onCappedRuntime(
      { maxStorageBufferBindingSize: 1024, maxComputeWorkgroupsPerDimension: 3 },
      async (tiny) => {
        await check(tiny, 23, 50, false);
        await check(tiny, 23, 50, true);
      },
    );
  });

  it('gives NaN rows for targets outside the vocabulary', async () => {
    const logits = new Random(freshSeed()).uniform(3 * 5);
    const grad = await upload(gpu.rt, new Float32Array(15));
    await crossEntropyBackward(gpu.rt, {
      logits: await upload(gpu.rt, logits),
      targets: await upload(gpu.rt, Uint32Array.of(1, 5, 0)),
      grad,
      rows: 3,
      vocab: 5,
    });
    const g = await gpu.rt.readF32(grad);
    expect([...g.subarray(5, 10)].every(Number.isNaN)).toBe(true);
    expect([...g.subarray(0, 5), ...g.subarray(10)].every(Number.isFinite)).toBe(true);
  });

  it('rejects bad shapes with RangeErrors', async () => {
    const b = await upload(gpu.rt, new Float32Array(12));
    const targets = await upload(gpu.rt, new Uint32Array(3));
    await expect(crossEntropyBackward(gpu.rt, { logits: b, targets, rows: 3, vocab: 5 })).rejects.toThrow(
      /logits \(3×5.*needs 60 bytes/,
    );
    await expect(crossEntropyBackward(gpu.rt, { logits: b, targets, rows: 3, vocab: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(
      crossEntropyBackward(gpu.rt, { logits: b, targets, grad: b, offsetGrad: 1, rows: 2, vocab: 4 }),
    ).rejects.toThrow(/different buffer/);
    await expect(
      crossEntropyBackward(gpu.rt, { logits: b, targets, rows: 2, vocab: 4, scale: Number.NaN }),
    ).rejects.toThrow(/scale/);
  });
});
