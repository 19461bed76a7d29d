// The fuzz harness must be able to fail: a parser that throws the wrong class, allocates past the
// cap or takes too long is caught, and the guard leaves the constructors as it found them.

import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../model/byteSource';
import {
  AllocationCapExceeded,
  applyByteEdits,
  applyJsonEdits,
  expectOnlyTyped,
  withAllocationCap,
} from './harness';

describe('fuzz harness', () => {
  it('passes a success and the allowed error class', async () => {
    await expectOnlyTyped([ModelFormatError], 10, () => 1);
    await expectOnlyTyped([ModelFormatError], 10, () => {
      throw new ModelFormatError('f', 'bad');
    });
  });

  it('fails on another error class, naming it', async () => {
    await expect(
      expectOnlyTyped([ModelFormatError], 10, () => {
        throw new TypeError('x.split is not a function');
      }),
    ).rejects.toThrow(/threw TypeError: x.split is not a function instead of ModelFormatError/);
  });

  it('fails on an allocation past the cap, for buffers and every typed array', async () => {
    const F32 = Float32Array;
    await expect(expectOnlyTyped([ModelFormatError], 100, () => new Float32Array(1e6))).rejects.toThrow(
      /AllocationCapExceeded: new Float32Array\(…\) asked for 4000000 bytes/,
    );
    await expect(withAllocationCap(1000, () => new ArrayBuffer(2000))).rejects.toBeInstanceOf(
      AllocationCapExceeded,
    );
    await expect(withAllocationCap(1000, () => Uint16Array.from({ length: 600 }))).rejects.toBeInstanceOf(
      AllocationCapExceeded,
    );
    // Views of an existing buffer allocate nothing; small arrays pass and are the real thing.
    const buffer = new ArrayBuffer(8000);
    const small = await withAllocationCap(1000, () => new Float32Array(buffer, 0, 2000).length);
    expect(small).toBe(2000);
    const made = await withAllocationCap(1000, () => new Float32Array(4));
    expect(made).toBeInstanceOf(F32);
    expect(Float32Array).toBe(F32);
  });

  it('fails a case that takes too long', async () => {
    await expect(
      expectOnlyTyped([ModelFormatError], 10, () => new Promise((resolve) => setTimeout(resolve, 2_100))),
    ).rejects.toThrow(/took \d+ ms/);
  });

  it('edits copies, never the valid input', () => {
    const valid = { a: 1, b: [2, 3] };
    const edited = applyJsonEdits(valid, [{ at: 0, numeric: true, kind: 'replace', value: 1e9, key: '' }]);
    expect(edited).toEqual({ a: 1e9, b: [2, 3] });
    expect(valid).toEqual({ a: 1, b: [2, 3] });
    const bytes = new Uint8Array(8);
    const cut = applyByteEdits(bytes, [
      { at: 5, kind: 'int32', value: -1 },
      { at: 6, kind: 'truncate', value: 0 },
    ]);
    expect(Array.from(cut)).toEqual([0, 0, 0, 0, 255, 255]);
    expect(Array.from(bytes)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
});
