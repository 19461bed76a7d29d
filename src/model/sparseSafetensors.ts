// Compressed sparse matrices in a safetensors file. A compressed matrix NAME is stored as its
// component tensors and one `__metadata__` entry that says how to read them back:
//
//   N:M      NAME.nm_values F32 [rows, cols/m·n]   NAME.nm_indices U32 [rows, index words per row]
//   bitmask  NAME.bitmask_mask U32 [rows, ⌈cols/32⌉]   NAME.bitmask_row_offsets U32 [rows + 1]
//            NAME.bitmask_values F32 [stored]
//   __metadata__["sparse:NAME"] = '{"format":"nm","n":2,"m":4,"rows":R,"cols":C}' (or "bitmask",
//            without n and m)
//
// Dense tensors are written unchanged. A reader (openModel, through expandCompressed) sees NAME as
// an ordinary F32 tensor of the dense shape whose bytes are decoded from the components when it is
// read, bit for bit the matrix that was written, so every existing loader reads such a file as it
// is. Components that disagree with the metadata are refused when the file is opened, and indices or
// masks that contradict the format when the tensor is read; both name the file and the tensor.

import { bitmaskWordsPerRow, encodeBitmask } from '../sparse/bitmaskFormat';
import { type CompressedMatrix, compressedBytes, decodeCompressed } from '../sparse/compressed';
import { SparseFormatError } from '../sparse/formatError';
import { checkNmShape, encodeNm, nmIndexWordsPerRow, nmKeptPerRow } from '../sparse/nmFormat';
import { ModelFormatError } from './byteSource';
import {
  type SafetensorsFile,
  type TensorInfo,
  type TensorToWrite,
  type WordTensorInfo,
  type WordTensorToWrite,
  writeSafetensors,
} from './safetensors';

/** The metadata key of a compressed matrix. */
export const SPARSE_KEY_PREFIX = 'sparse:';

/** What an export compresses: every F32 matrix the format holds exactly in fewer bytes. */
export type SparseExportFormat = { format: 'nm'; n: number; m: number } | { format: 'bitmask' };

interface SparseHeader {
  format: 'nm' | 'bitmask';
  rows: number;
  cols: number;
  n?: number;
  m?: number;
}

/** The component tensors and the metadata entry of one compressed matrix. */
export function compressedTensors(matrix: CompressedMatrix): {
  tensors: (TensorToWrite | WordTensorToWrite)[];
  metadata: Record<string, string>;
} {
  const { name, rows, cols } = matrix;
  const header: SparseHeader =
    matrix.format === 'nm'
      ? { format: 'nm', n: matrix.n, m: matrix.m, rows, cols }
      : { format: 'bitmask', rows, cols };
  const metadata = { [`${SPARSE_KEY_PREFIX}${name}`]: JSON.stringify(header) };
  if (matrix.format === 'nm') {
    const kept = nmKeptPerRow(cols, matrix.n, matrix.m);
    const words = nmIndexWordsPerRow(cols, matrix.n, matrix.m);
    return {
      tensors: [
        { name: `${name}.nm_values`, shape: [rows, kept], data: matrix.values },
        { name: `${name}.nm_indices`, shape: [rows, words], data: matrix.indices, dtype: 'U32' },
      ],
      metadata,
    };
  }
  return {
    tensors: [
      {
        name: `${name}.bitmask_mask`,
        shape: [rows, bitmaskWordsPerRow(cols)],
        data: matrix.mask,
        dtype: 'U32',
      },
      { name: `${name}.bitmask_row_offsets`, shape: [rows + 1], data: matrix.rowOffsets, dtype: 'U32' },
      { name: `${name}.bitmask_values`, shape: [matrix.values.length], data: matrix.values },
    ],
    metadata,
  };
}

/**
 * The tensors of a file with every F32 matrix compressed that `format` holds exactly (N:M: groups
 * along the stored rows satisfy the pattern) in fewer bytes than dense; the others stay as they are
 * (16-bit tensors too: their values would grow to f32). Returns the tensors to write and the
 * metadata entries to add.
 */
export function compressForExport(
  tensors: readonly TensorToWrite[],
  format: SparseExportFormat,
): {
  tensors: (TensorToWrite | WordTensorToWrite)[];
  metadata: Record<string, string>;
  compressed: string[];
} {
  const out: (TensorToWrite | WordTensorToWrite)[] = [];
  const metadata: Record<string, string> = {};
  const compressed: string[] = [];
  for (const t of tensors) {
    const [rows, cols] = t.shape as [number, number];
    let matrix: CompressedMatrix | null = null;
    if (t.shape.length === 2 && (t.dtype ?? 'F32') === 'F32' && rows > 0 && cols > 0) {
      try {
        matrix =
          format.format === 'nm'
            ? encodeNm(t.name, t.data, rows, cols, format.n, format.m)
            : encodeBitmask(t.name, t.data, rows, cols);
      } catch (error) {
        // A matrix the pattern does not hold (an embedding, an unpruned layer) stays dense.
        if (!(error instanceof SparseFormatError)) throw error;
      }
    }
    if (matrix && compressedBytes(matrix) < 4 * rows * cols) {
      const parts = compressedTensors(matrix);
      out.push(...parts.tensors);
      Object.assign(metadata, parts.metadata);
      compressed.push(t.name);
    } else {
      out.push(t);
    }
  }
  return { tensors: out, metadata, compressed };
}

/** A safetensors file with the given tensors, compressed as compressForExport decides. */
export function writeCompressedSafetensors(
  tensors: readonly TensorToWrite[],
  format: SparseExportFormat,
  metadata: Record<string, string> = {},
): Uint8Array {
  const packed = compressForExport(tensors, format);
  return writeSafetensors(packed.tensors, { ...metadata, ...packed.metadata });
}

/**
 * The file's tensors as loaders should see them: each compressed matrix as one F32 tensor of its
 * dense shape, decoded on read, its components gone. Throws a ModelFormatError naming the tensor for
 * metadata that does not parse, components that are missing or of the wrong dtype or shape, a name
 * that is also a dense tensor, or a U32 tensor that belongs to no compressed matrix.
 */
export function expandCompressed(file: SafetensorsFile): Map<string, TensorInfo> {
  const fileName = file.source.name;
  const tensors = new Map(file.tensors);
  const words = new Map(file.words);
  for (const [key, value] of Object.entries(file.metadata)) {
    if (!key.startsWith(SPARSE_KEY_PREFIX)) continue;
    const name = key.slice(SPARSE_KEY_PREFIX.length);
    const fail = (detail: string): never => {
      throw new ModelFormatError(fileName, `compressed matrix: ${detail}`, name);
    };
    const header = parseHeader(value, fail);
    if (tensors.has(name)) fail('the file also holds a dense tensor of this name');
    const { rows, cols } = header;
    const float = (part: string, shape: number[]): TensorInfo => {
      const info = tensors.get(`${name}.${part}`);
      if (!info) return fail(`its part ${name}.${part} (F32) is missing`);
      if (info.dtype !== 'F32') fail(`its part ${name}.${part} is ${info.dtype}, not F32`);
      checkShape(`${name}.${part}`, info.shape, shape, fail);
      tensors.delete(`${name}.${part}`);
      return info;
    };
    const word = (part: string, shape: number[]): WordTensorInfo => {
      const info = words.get(`${name}.${part}`);
      if (!info) return fail(`its part ${name}.${part} (U32) is missing`);
      checkShape(`${name}.${part}`, info.shape, shape, fail);
      words.delete(`${name}.${part}`);
      return info;
    };
    let read: () => Promise<CompressedMatrix>;
    if (header.format === 'nm') {
      const { n, m } = header as Required<SparseHeader>;
      try {
        checkNmShape(name, rows, cols, n, m);
      } catch (error) {
        fail((error as Error).message);
      }
      const values = float('nm_values', [rows, nmKeptPerRow(cols, n, m)]);
      const indices = word('nm_indices', [rows, nmIndexWordsPerRow(cols, n, m)]);
      read = async () => ({
        format: 'nm',
        name,
        rows,
        cols,
        n,
        m,
        values: new Float32Array(await readPart(values)),
        indices: new Uint32Array(await readPart(indices)),
      });
    } else {
      const mask = word('bitmask_mask', [rows, bitmaskWordsPerRow(cols)]);
      const rowOffsets = word('bitmask_row_offsets', [rows + 1]);
      const valuesInfo = tensors.get(`${name}.bitmask_values`);
      const values = float('bitmask_values', [valuesInfo?.shape[0] ?? 0]);
      read = async () => ({
        format: 'bitmask',
        name,
        rows,
        cols,
        mask: new Uint32Array(await readPart(mask)),
        rowOffsets: new Uint32Array(await readPart(rowOffsets)),
        values: new Float32Array(await readPart(values)),
      });
    }
    const size = 4 * rows * cols;
    const source = {
      name: fileName,
      size,
      async read(offset: number, length: number): Promise<ArrayBuffer> {
        let dense: Float32Array;
        try {
          dense = decodeCompressed(await read());
        } catch (error) {
          if (error instanceof SparseFormatError) fail(error.message.slice(name.length + 2));
          throw error;
        }
        return dense.buffer.slice(offset, offset + length) as ArrayBuffer;
      },
    };
    tensors.set(name, { name, dtype: 'F32', shape: [rows, cols], offset: 0, byteLength: size, source });
  }
  const stray = [...words.keys()][0];
  if (stray !== undefined)
    throw new ModelFormatError(
      fileName,
      'is U32, which a file may hold only as part of a compressed matrix named in __metadata__',
      stray,
    );
  return tensors;
}

function parseHeader(value: string, fail: (detail: string) => never): SparseHeader {
  let header: unknown;
  try {
    header = JSON.parse(value);
  } catch {
    return fail(`its __metadata__ entry ${JSON.stringify(value)} is not JSON`);
  }
  const h = header as Partial<SparseHeader>;
  if (typeof header !== 'object' || header === null || (h.format !== 'nm' && h.format !== 'bitmask'))
    return fail(`its __metadata__ entry ${JSON.stringify(value)} names no format ("nm" or "bitmask")`);
  for (const field of h.format === 'nm'
    ? (['rows', 'cols', 'n', 'm'] as const)
    : (['rows', 'cols'] as const)) {
    const v = h[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
      fail(`its __metadata__ field ${field} = ${JSON.stringify(v)} is not a positive integer`);
  }
  return h as SparseHeader;
}

function checkShape(
  part: string,
  actual: number[],
  expected: number[],
  fail: (detail: string) => never,
): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i]))
    fail(
      `its part ${part} has shape ${JSON.stringify(actual)}, the metadata's shape needs ${JSON.stringify(expected)}`,
    );
}

async function readPart(info: TensorInfo | WordTensorInfo): Promise<ArrayBuffer> {
  return info.source.read(info.offset, info.byteLength);
}
