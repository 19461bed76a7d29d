import { describe, expect, it } from 'vitest';
import { bytesSource, ModelFormatError } from './byteSource';
import {
  MAX_HEADER_BYTES,
  readSafetensorsHeader,
  readTensorF32,
  toF32,
  writeSafetensors,
} from './safetensors';

/** A file with a hand-written header, for the malformed cases. */
function rawFile(header: unknown, dataBytes: number, declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  return out;
}

async function failure(bytes: Uint8Array): Promise<ModelFormatError> {
  const error = await readSafetensorsHeader(bytesSource('bad.safetensors', bytes)).catch((e) => e);
  expect(error).toBeInstanceOf(ModelFormatError);
  expect(error.message).toContain('bad.safetensors');
  return error;
}

describe('safetensors', () => {
  it('round-trips tensors and metadata through the writer and the reader', async () => {
    const a = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1);
    const b = Float32Array.of(Math.PI);
    const bytes = writeSafetensors(
      [
        { name: 'a', shape: [2, 3], data: a },
        { name: 'b', shape: [1], data: b },
      ],
      { format: 'pt' },
    );
    // The data section starts 8-byte aligned.
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const file = await readSafetensorsHeader(bytesSource('m.safetensors', bytes));
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors.get('a')?.shape).toEqual([2, 3]);
    expect(Array.from(await readTensorF32(file.tensors.get('a') as never))).toEqual(Array.from(a));
    expect(Array.from(await readTensorF32(file.tensors.get('b') as never))).toEqual(Array.from(b));
  });

  it('upcasts F16 and BF16 exactly', () => {
    // 1.0, -2.0, 65504 (largest half), 2^-24 (smallest subnormal), +inf
    const f16 = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00);
    expect(Array.from(toF32('F16', f16.buffer))).toEqual([1, -2, 65504, 2 ** -24, Number.POSITIVE_INFINITY]);
    const bf16 = Uint16Array.of(0x3f80, 0xc0a0);
    expect(Array.from(toF32('BF16', bf16.buffer))).toEqual([1, -5]);
  });

  it('refuses a truncated file', async () => {
    const good = writeSafetensors([{ name: 'w', shape: [4], data: new Float32Array(4) }]);
    expect((await failure(good.slice(0, 5))).message).toMatch(/too short/);
    expect((await failure(good.slice(0, good.length - 4))).message).toMatch(
      /past the .* bytes of data: truncated/,
    );
  });

  it('refuses a header longer than the file or than the limit', async () => {
    expect((await failure(rawFile({}, 0, 1000))).message).toMatch(/claims 1000 bytes/);
    expect((await failure(rawFile({}, 0, MAX_HEADER_BYTES + 1))).message).toMatch(/exceeds/);
  });

  it('refuses a header that is not a JSON object', async () => {
    const bytes = rawFile({}, 0);
    bytes.set(new TextEncoder().encode('[1'), 8);
    expect((await failure(bytes)).message).toMatch(/not valid UTF-8 JSON/);
  });

  it('refuses offsets outside the data, a size that does not match the shape, and overlaps', async () => {
    const outside = rawFile({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8);
    expect((await failure(outside)).message).toMatch(/tensor "w".*past the 8 bytes/);
    const mismatch = rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, 16);
    expect((await failure(mismatch)).message).toMatch(/needs 12 bytes but data_offsets give 16/);
    const overlap = rawFile(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      12,
    );
    expect((await failure(overlap)).message).toMatch(/tensor "b".*overlap.*"a"/);
    const reversed = rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 8);
    expect((await failure(reversed)).message).toMatch(/not a \[begin, end\] pair/);
  });

  it('names an unsupported dtype and a malformed shape', async () => {
    const int8 = rawFile({ w: { dtype: 'I8', shape: [4], data_offsets: [0, 4] } }, 4);
    expect((await failure(int8)).message).toMatch(/tensor "w".*dtype "I8" is not supported/);
    const shape = rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4);
    expect((await failure(shape)).message).toMatch(/not a list of non-negative integers/);
  });
});
