// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw data. The header is untrusted input, so every
// field is checked before any byte range is read: a hostile or truncated file yields a
// ModelFormatError naming the file and tensor, never a huge allocation or a read out of range.

import { decodeHalves, encodeHalves } from '../kernels/halfFloat';
import { type ByteSource, ModelFormatError } from './byteSource';

export type Dtype = 'F32' | 'F16' | 'BF16';

/**
 * U32 tensors are read only as parts of a compressed sparse matrix (src/model/sparseSafetensors.ts):
 * they go to `words`, apart from the float tensors, so no loader can take them for weights.
 */
const DTYPE_BYTES: Record<Dtype | 'U32', number> = { F32: 4, F16: 2, BF16: 2, U32: 4 };

/** Headers larger than this are refused (the reference implementation uses the same bound). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  byteLength: number;
  /** The file holding it (for sharded checkpoints). */
  source: ByteSource;
}

/** A U32 tensor: the packed indices, bitmask or row offsets of a compressed sparse matrix. */
export interface WordTensorInfo extends Omit<TensorInfo, 'dtype'> {
  dtype: 'U32';
}

export interface SafetensorsFile {
  source: ByteSource;
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** The U32 tensors (empty in a file without compressed matrices). */
  words: Map<string, WordTensorInfo>;
}

export async function readSafetensorsHeader(source: ByteSource): Promise<SafetensorsFile> {
  const file = source.name;
  if (source.size < 8)
    throw new ModelFormatError(file, `${source.size} bytes is too short for a safetensors header`);
  const lengthBytes = new DataView(await source.read(0, 8));
  const headerLength = Number(lengthBytes.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) {
    throw new ModelFormatError(
      file,
      `header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`,
    );
  }
  if (8 + headerLength > source.size) {
    throw new ModelFormatError(
      file,
      `header claims ${headerLength} bytes but the file has only ${source.size - 8} after the length: truncated or not safetensors`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await source.read(8, headerLength)));
  } catch (error) {
    throw new ModelFormatError(file, `header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ModelFormatError(file, 'header is not a JSON object');
  }

  const dataStart = 8 + headerLength;
  const dataSize = source.size - dataStart;
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  const words = new Map<string, WordTensorInfo>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(file, entry);
      continue;
    }
    const { dtype, ...info } = parseEntry(file, name, entry, dataSize);
    const placed = { ...info, offset: dataStart + info.begin, source };
    if (dtype === 'U32') words.set(name, { ...placed, dtype });
    else tensors.set(name, { ...placed, dtype });
  }

  // Two tensors sharing bytes would let a write to one corrupt the other.
  const sorted = [...tensors.values(), ...words.values()].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as TensorInfo;
    const cur = sorted[i] as TensorInfo;
    if (cur.offset < prev.offset + prev.byteLength && cur.byteLength > 0 && prev.byteLength > 0) {
      throw new ModelFormatError(file, `its bytes overlap those of tensor "${prev.name}"`, cur.name);
    }
  }
  return { source, metadata, tensors, words };
}

function parseMetadata(file: string, entry: unknown): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ModelFormatError(file, '__metadata__ is not an object');
  }
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string') throw new ModelFormatError(file, `__metadata__.${key} is not a string`);
  }
  return entry as Record<string, string>;
}

function parseEntry(
  file: string,
  name: string,
  entry: unknown,
  dataSize: number,
): { name: string; dtype: Dtype | 'U32'; shape: number[]; begin: number; byteLength: number } {
  if (typeof entry !== 'object' || entry === null)
    throw new ModelFormatError(file, 'entry is not an object', name);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new ModelFormatError(
      file,
      `dtype ${JSON.stringify(dtype)} is not supported (F32, F16 and BF16 are, and U32 for compressed sparse matrices); convert the checkpoint to one of them`,
      name,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ModelFormatError(
      file,
      `shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
      name,
    );
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw new ModelFormatError(
      file,
      `data_offsets ${JSON.stringify(offsets)} is not a [begin, end] pair`,
      name,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataSize) {
    throw new ModelFormatError(
      file,
      `data_offsets end ${end} is past the ${dataSize} bytes of data: truncated file`,
      name,
    );
  }
  const elements = shape.reduce((a: number, b: number) => a * b, 1);
  const expected = elements * DTYPE_BYTES[dtype as Dtype | 'U32'];
  if (end - begin !== expected) {
    throw new ModelFormatError(
      file,
      `${dtype} ${JSON.stringify(shape)} needs ${expected} bytes but data_offsets give ${end - begin}`,
      name,
    );
  }
  return { name, dtype: dtype as Dtype | 'U32', shape: shape as number[], begin, byteLength: expected };
}

/** Reads one tensor as f32, upcasting F16/BF16. */
export async function readTensorF32(info: TensorInfo): Promise<Float32Array> {
  const raw = await info.source.read(info.offset, info.byteLength);
  return toF32(info.dtype, raw);
}

export function toF32(dtype: Dtype, raw: ArrayBuffer): Float32Array {
  if (dtype === 'F32') {
    // The data section need not be 4-byte aligned inside the file, but a read returns a fresh
    // ArrayBuffer, which always is.
    return new Float32Array(raw);
  }
  return decodeHalves(dtype, new Uint16Array(raw));
}

/** Reads a F16 or BF16 tensor's stored bits (little endian, as the file holds them). */
export async function readTensorHalves(info: TensorInfo): Promise<Uint16Array> {
  if (info.dtype === 'F32') throw new RangeError(`tensor ${info.name} is F32, not a 16-bit tensor`);
  return new Uint16Array(await info.source.read(info.offset, info.byteLength));
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
  /** How to store it (default F32): F16 and BF16 round to nearest even (see halfFloat.ts). */
  dtype?: Dtype;
}

/** A U32 tensor to write (a compressed sparse matrix's indices, bitmask or row offsets). */
export interface WordTensorToWrite {
  name: string;
  shape: number[];
  data: Uint32Array;
  dtype: 'U32';
}

/**
 * The start of a safetensors file holding these tensors in the order given: the header's length
 * (8 bytes, little-endian) and the JSON header, padded with spaces to a multiple of 8 bytes. The
 * tensors' bytes follow it back to back (storedBytes), so a file can be written one tensor at a time.
 */
export function safetensorsHeader(
  tensors: readonly { name: string; shape: number[]; dtype?: Dtype | 'U32' }[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F32';
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const text = JSON.stringify(header);
  const length = new TextEncoder().encode(text).length;
  const json = new TextEncoder().encode(text + ' '.repeat(Math.ceil(length / 8) * 8 - length));
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/** A tensor's bytes as the file stores them, in its dtype (F16 and BF16 round to nearest even). */
export function storedBytes(t: TensorToWrite | WordTensorToWrite): Uint8Array {
  const elements = t.shape.reduce((a, b) => a * b, 1);
  if (elements !== t.data.length) {
    throw new RangeError(
      `tensor "${t.name}": shape ${JSON.stringify(t.shape)} holds ${elements} values, data has ${t.data.length}`,
    );
  }
  const data =
    t.dtype === 'U32' || t.dtype === undefined || t.dtype === 'F32'
      ? t.data
      : encodeHalves(t.dtype, t.data, t.name);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Serializes tensors as safetensors, in the order given, header padded to 8 bytes. */
export function writeSafetensors(
  tensors: readonly (TensorToWrite | WordTensorToWrite)[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const stored = tensors.map(storedBytes);
  const header = safetensorsHeader(tensors, metadata);
  const out = new Uint8Array(header.length + stored.reduce((n, b) => n + b.length, 0));
  out.set(header);
  let at = header.length;
  for (const bytes of stored) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}
