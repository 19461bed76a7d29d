import { describe, expect, it } from 'vitest';
import { GpuLimitError } from '../gpu/errors';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { withNodeRuntime } from '../host/testRuntimes';
import { crossEntropy, IGNORE_TARGET } from './crossEntropy';
import { Random } from './random';
import { reduceToNumber } from './reduce';
import { F32_EPS, relativeError } from './reference';
import { crossEntropyBound, crossEntropyReference } from './reference.model';
import { scratch } from './testing';

describe('cross-entropy', () => {
  let rt: GpuRuntime;
  withNodeRuntime((made) => {
    rt = made;
  });

  it('gives 0 for ignored rows, NaN for a target past the vocabulary, and a mean NLL with reduce()', async () => {
    const [rows, vocab, ld] = [6, 37, 40];
    const logits = new Random(12).uniform(1 + rows * ld, -4, 4);
    const targets = Uint32Array.of(0, IGNORE_TARGET, vocab - 1, vocab, 5, IGNORE_TARGET);
    const nll = await scratch(rt, new Float32Array(rows + 2).fill(7));
    await crossEntropy(rt, {
      logits: await scratch(rt, logits),
      targets: await scratch(rt, Uint32Array.of(1, ...targets)),
      nll,
      rows,
      vocab,
      ld,
      offsetLogits: 1,
      offsetTargets: 1,
      offsetNll: 2,
    });
    const got = await rt.readF32(nll);
    expect([got[0], got[1]]).toEqual([7, 7]);
    expect([got[3], got[7]]).toEqual([0, 0]);
    expect(Number.isNaN(got[5])).toBe(true);

    // The valid rows against the reference, packed.
    const valid = [0, 2, 4];
    const packed = new Float32Array(valid.length * vocab);
    for (const [i, r] of valid.entries())
      packed.set(logits.subarray(1 + r * ld, 1 + r * ld + vocab), i * vocab);
    const reference = crossEntropyReference(
      packed,
      valid.length,
      vocab,
      Uint32Array.from(valid, (r) => targets[r] as number),
    );
    const gotValid = Float32Array.from(valid, (r) => got[2 + r] as number);
    expect(relativeError(gotValid, reference)).toBeLessThanOrEqual(crossEntropyBound(vocab));

    // Mean over the rows that count: the sum with reduce(), the count is the caller's.
    const good = Uint32Array.of(0, IGNORE_TARGET, 3, 7, IGNORE_TARGET, 1);
    const loss = await scratch(rt, new Float32Array(good.length));
    const dense = new Random(13).uniform(good.length * vocab, -4, 4);
    await crossEntropy(rt, {
      logits: await scratch(rt, dense),
      targets: await scratch(rt, good),
      nll: loss,
      rows: good.length,
      vocab,
    });
    const sum = await reduceToNumber(rt, 'sum', good.length, { buffer: loss });
    const expected = crossEntropyReference(dense, good.length, vocab, good);
    const count = good.filter((t) => t !== IGNORE_TARGET).length;
    const total = expected.value.reduce((s, v) => s + v, 0);
    const scale = expected.scale.reduce((s, v) => s + v, 0);
    expect(Math.abs(sum / count - total / count)).toBeLessThanOrEqual(
      (crossEntropyBound(vocab) + 16 * F32_EPS) * (scale / count),
    );
  });

  it('refuses a row wider than one binding with a limit error, and wrong arguments with RangeErrors', async () => {
    const tiny = await createNodeRuntime({ capLimits: { maxStorageBufferBindingSize: 2048 } });
    try {
      const run = crossEntropy(tiny, {
        logits: await scratch(tiny, new Float32Array(2000)),
        targets: await scratch(tiny, new Uint32Array(2)),
        nll: await scratch(tiny, new Float32Array(2)),
        rows: 2,
        vocab: 1000,
      });
      await expect(run).rejects.toBeInstanceOf(GpuLimitError);
    } finally {
      tiny.destroy();
    }
    const logits = await scratch(rt, new Float32Array(30));
    const targets = await scratch(rt, new Uint32Array(3));
    const nll = await scratch(rt, new Float32Array(3));
    const base = { logits, targets, nll, rows: 3, vocab: 10 };
    await expect(crossEntropy(rt, { ...base, vocab: 11 })).rejects.toThrow(/crossEntropy: logits \(3×11/);
    await expect(crossEntropy(rt, { ...base, rows: 4, vocab: 7 })).rejects.toThrow(
      /crossEntropy: targets \(1×4/,
    );
    await expect(crossEntropy(rt, { ...base, vocab: 0 })).rejects.toThrow(/vocab must be an integer ≥ 1/);
    await expect(crossEntropy(rt, { ...base, nll: logits })).rejects.toThrow(
      /nll must be a different buffer/,
    );
  });
});
