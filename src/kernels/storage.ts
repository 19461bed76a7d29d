// How a kernel operand's elements are stored. 'f32' is one float per 4-byte word; 'f16' and 'bf16'
// are a half-precision checkpoint's own 16-bit values, two per u32 word, element 2w in the low half
// of word w (the file's little-endian byte order). Kernels decode packed elements to f32 as they
// read them, so a 16-bit weight matrix takes half the memory and the arithmetic stays f32.
//
// Windows of packed operands are bound in whole words: the binding starts at the word holding the
// first element, and the kernel is told the element offset inside the binding, which is odd when
// the first element is the high half of its word.

import { bindWindow, type Window } from './window';

export type StorageType = 'f32' | 'f16' | 'bf16';

/** The value of a shader's storage-type override constant (see shaders/kernels/halfStorage.wgsl). */
export const STORAGE_CODE: Record<StorageType, number> = { f32: 0, f16: 1, bf16: 2 };

/** Bytes of the whole words that hold `elements` elements. */
export function storageBytes(type: StorageType, elements: number): number {
  return type === 'f32' ? 4 * elements : 4 * Math.ceil(elements / 2);
}

/**
 * Elements a window may span when `capacityWords` words fit one binding: a packed window may start
 * in the high half of its first word, which costs one element of the two per word.
 */
export function storageCapacity(type: StorageType, capacityWords: number): number {
  return type === 'f32' ? capacityWords : 2 * capacityWords - 1;
}

/**
 * Binds the window of `elements` elements starting at element `firstElement`; `base` is the element
 * offset of the first element inside the binding. For f32 this is exactly bindWindow.
 */
export function bindStorageWindow(
  buffer: GPUBuffer,
  firstElement: number,
  elements: number,
  alignmentBytes: number,
  type: StorageType,
): Window {
  if (type === 'f32') return bindWindow(buffer, firstElement, elements, alignmentBytes);
  const parity = firstElement % 2;
  const words = bindWindow(
    buffer,
    (firstElement - parity) / 2,
    Math.ceil((parity + elements) / 2),
    alignmentBytes,
  );
  return { binding: words.binding, base: 2 * words.base + parity };
}
