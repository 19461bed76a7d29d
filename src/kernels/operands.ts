// Argument checks and window arithmetic shared by the transformer kernels' wrappers. A failed check
// is a RangeError that names the kernel, the argument and what was expected, before anything is
// encoded: a bad shape must never reach the GPU as an out-of-bounds binding.

import { GpuLimitError } from '../gpu/errors';
import { type StorageType, storageBytes } from './storage';
import { span } from './window';

/** Throws unless value is an integer ≥ min. */
export function checkInteger(kernel: string, name: string, value: number, min = 0): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${kernel}: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
}

/**
 * Throws unless a rows × cols block with leading dimension ld, starting at element offset, lies
 * inside the buffer: 4-byte elements (f32 or u32), or 16-bit ones packed two per word.
 */
export function checkMatrix(
  kernel: string,
  name: string,
  buffer: GPUBuffer,
  rows: number,
  cols: number,
  ld: number,
  offset: number,
  type: StorageType = 'f32',
): void {
  checkInteger(kernel, `${name} leading dimension`, ld);
  checkInteger(kernel, `${name} offset`, offset);
  if (rows > 1 && ld < cols) {
    throw new RangeError(`${kernel}: ${name} leading dimension ${ld} is smaller than its ${cols} columns`);
  }
  const needed = storageBytes(type, offset + span(rows, cols, ld));
  if (needed > buffer.size) {
    throw new RangeError(
      `${kernel}: ${name} (${rows}×${cols}${type === 'f32' ? '' : ` ${type}`}, leading dimension ${ld}, offset ${offset}) needs ` +
        `${needed} bytes, buffer "${buffer.label}" has ${buffer.size}`,
    );
  }
}

/** Throws unless value is finite (and, with positive, > 0). */
export function checkFinite(kernel: string, name: string, value: number, positive = false): void {
  if (!Number.isFinite(value) || (positive && !(value > 0))) {
    throw new RangeError(
      `${kernel}: ${name} must be a finite${positive ? ' positive' : ''} number, got ${value}`,
    );
  }
}

/**
 * How many whole rows of cols elements, ld apart, one window of `capacity` elements holds. A row
 * that does not fit alone cannot be split by these kernels (they reduce over it in one workgroup),
 * so that is a limit error, not a shape error.
 */
export function rowsPerWindow(
  kernel: string,
  what: string,
  capacity: number,
  cols: number,
  ld: number,
): number {
  if (cols > capacity) {
    throw new GpuLimitError(
      `${kernel}: a ${what} of ${cols} elements (${cols * 4} bytes) does not fit one storage binding, ` +
        `which holds ${capacity} elements here (maxStorageBufferBindingSize less alignment slack)`,
    );
  }
  return ld === 0 ? Number.POSITIVE_INFINITY : 1 + Math.floor((capacity - cols) / ld);
}

/** Throws when two bindings of one dispatch would be the same buffer, which WebGPU forbids when one is written. */
export function checkDistinct(
  kernel: string,
  written: [string, GPUBuffer],
  ...read: [string, GPUBuffer][]
): void {
  for (const [name, buffer] of read) {
    if (buffer === written[1]) {
      throw new RangeError(
        `${kernel}: ${written[0]} must be a different buffer from ${name} ("${buffer.label}"); ` +
          'WebGPU cannot bind a buffer for writing and reading in one dispatch',
      );
    }
  }
}

/** The window length of a batched pass: divides tokens; default tokens (one window). */
export function checkSeqLen(kernel: string, tokens: number, seqLen: number | undefined): number {
  const length = seqLen ?? Math.max(tokens, 1);
  checkInteger(kernel, 'seqLen', length, 1);
  if (tokens % length !== 0) {
    throw new RangeError(`${kernel}: ${tokens} tokens are not whole windows of seqLen ${length}`);
  }
  return length;
}
