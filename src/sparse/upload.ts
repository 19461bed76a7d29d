// Compressed weight matrices on the GPU: each component array is its own storage buffer, created
// through the runtime so the ledger counts exactly the format's bytes under 'weights'. The kernels
// (nmMatvec, bitmaskMatvec, nmMatmul, and sparseLinear that picks one) read these buffers directly.

import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { type CompressedMatrix, validateCompressed } from './compressed';
import { nmIndexWordsPerRow, nmKeptPerRow } from './nmFormat';
import { SLICE_ROWS, type SlicedMatrix, validateSliced } from './slicedFormat';

interface OnGpuCommon {
  name: string;
  rows: number;
  cols: number;
  /** Bytes of the buffers (the format's bytes; a matrix without values still has a 4-byte values buffer). */
  bytes: number;
  /** Frees every buffer; calling it twice is harmless. */
  destroy(): void;
}

export interface NmOnGpu extends OnGpuCommon {
  format: 'nm';
  n: number;
  m: number;
  kept: number;
  words: number;
  values: GPUBuffer;
  indices: GPUBuffer;
}

export interface BitmaskOnGpu extends OnGpuCommon {
  format: 'bitmask';
  mask: GPUBuffer;
  rowOffsets: GPUBuffer;
  values: GPUBuffer;
  /** The row offsets on the host too: the kernel's wrapper sizes its bindings of values from them. */
  hostRowOffsets: Uint32Array;
}

export type CompressedMatrixOnGpu = NmOnGpu | BitmaskOnGpu;

export interface SlicedOnGpu extends OnGpuCommon {
  format: 'sliced';
  sliceStarts: GPUBuffer;
  steps: GPUBuffer;
  values: GPUBuffer;
  /** The slice starts on the host too: the kernel's wrapper sizes its bindings from them. */
  hostSliceStarts: Uint32Array;
}

/** Validates the matrix, then uploads its arrays as buffers labelled `${label} values` and so on. */
export async function uploadCompressed(
  rt: GpuRuntime,
  matrix: CompressedMatrix,
  label: string,
): Promise<CompressedMatrixOnGpu> {
  validateCompressed(matrix);
  const tracked: TrackedBuffer[] = [];
  const put = async (part: string, data: Float32Array | Uint32Array) => {
    // WebGPU binds no empty buffer: a matrix with no stored value gets one unused word.
    const t = await rt.upload(`${label} ${part}`, 'weights', data.length > 0 ? data : new Uint32Array(1));
    tracked.push(t);
    return t.buffer;
  };
  try {
    const common = { name: matrix.name, rows: matrix.rows, cols: matrix.cols };
    const destroy = () => {
      for (const t of tracked) t.destroy();
    };
    const bytes = () => tracked.reduce((s, t) => s + t.entry.size, 0);
    if (matrix.format === 'nm') {
      const values = await put('nm_values', matrix.values);
      const indices = await put('nm_indices', matrix.indices);
      return {
        ...common,
        format: 'nm',
        n: matrix.n,
        m: matrix.m,
        kept: nmKeptPerRow(matrix.cols, matrix.n, matrix.m),
        words: nmIndexWordsPerRow(matrix.cols, matrix.n, matrix.m),
        values,
        indices,
        bytes: bytes(),
        destroy,
      };
    }
    const mask = await put('bitmask_mask', matrix.mask);
    const rowOffsets = await put('bitmask_row_offsets', matrix.rowOffsets);
    const values = await put('bitmask_values', matrix.values);
    return {
      ...common,
      format: 'bitmask',
      mask,
      rowOffsets,
      values,
      hostRowOffsets: matrix.rowOffsets.slice(),
      bytes: bytes(),
      destroy,
    };
  } catch (error) {
    for (const t of tracked) t.destroy();
    throw error;
  }
}

/**
 * Validates a sliced matrix (slicedFormat.ts), then uploads its arrays as `${label} sliced_starts`,
 * `sliced_steps` and `sliced_values`. A matrix with no slot (every row empty) gets one slot of +0
 * (36 bytes more than slicedBytes counts), since a kernel binds no empty buffer.
 */
export async function uploadSliced(
  rt: GpuRuntime,
  matrix: SlicedMatrix,
  label: string,
): Promise<SlicedOnGpu> {
  validateSliced(matrix);
  const empty = matrix.steps.length === 0;
  const tracked: TrackedBuffer[] = [];
  const put = async (part: string, data: Float32Array | Uint32Array) => {
    const t = await rt.upload(`${label} ${part}`, 'weights', data);
    tracked.push(t);
    return t.buffer;
  };
  try {
    const sliceStarts = await put('sliced_starts', matrix.sliceStarts);
    const steps = await put('sliced_steps', empty ? new Uint32Array(1) : matrix.steps);
    const values = await put('sliced_values', empty ? new Float32Array(SLICE_ROWS) : matrix.values);
    return {
      name: matrix.name,
      rows: matrix.rows,
      cols: matrix.cols,
      format: 'sliced',
      sliceStarts,
      steps,
      values,
      hostSliceStarts: matrix.sliceStarts.slice(),
      bytes: tracked.reduce((s, t) => s + t.entry.size, 0),
      destroy: () => {
        for (const t of tracked) t.destroy();
      },
    };
  } catch (error) {
    for (const t of tracked) t.destroy();
    throw error;
  }
}
