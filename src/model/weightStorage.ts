// How a model's weights are held on the GPU. A F16 or BF16 checkpoint's 2-D matrices (the linear
// layers, the embeddings and the head) are uploaded as the file's own 16-bit values, packed two per
// u32 word, and the matmul and embedding kernels decode them as they read (src/kernels/storage.ts):
// half the memory of f32, with f32 arithmetic. 1-D tensors (norm gains, biases) are upcast to f32;
// they are a few KB per block, and the kernels that read them stay f32-only.
//
// A buffer's storage type is recorded against the buffer itself when it is uploaded, so whatever
// code is handed a weight buffer can ask how to read it (weightStorage) without every weight lookup
// carrying the type along.

import type { GpuRuntime } from '../gpu/runtime';
import { type StorageType, storageBytes } from '../kernels/storage';
import { encodeBitmask } from '../sparse/bitmaskFormat';
import { encodeNm } from '../sparse/nmFormat';
import { type CompressedMatrixOnGpu, uploadCompressed } from '../sparse/upload';
import type { SparseExportFormat } from './sparseSafetensors';
import type { CanonicalTensor, WeightSource } from './weights';

const packed = new WeakMap<GPUBuffer, StorageType>();
const compressed = new WeakMap<GPUBuffer, CompressedMatrixOnGpu>();

/**
 * A weight on the GPU: one buffer, or a compressed sparse matrix (src/sparse/upload.ts) whose
 * values buffer stands for it, so a weight lookup still hands out one buffer and the linear layer
 * asks compressedWeight() how to multiply by it.
 */
export interface HeldWeight {
  buffer: GPUBuffer;
  /** Bytes on the GPU. */
  bytes: number;
  destroy(): void;
}

/** How a tensor of `source` is stored on the GPU: packed when it is a 16-bit matrix the source can read raw. */
export function tensorStorage(
  source: Pick<WeightSource, 'dtype' | 'readHalf'>,
  tensor: CanonicalTensor,
): StorageType {
  if (tensor.shape.length !== 2 || !source.readHalf) return 'f32';
  const dtype = source.dtype?.(tensor.name) ?? 'F32';
  return dtype === 'F16' ? 'f16' : dtype === 'BF16' ? 'bf16' : 'f32';
}

/** Bytes a tensor takes on the GPU, the whole words of its storage. */
export function tensorBytes(tensor: CanonicalTensor, storage: StorageType): number {
  return storageBytes(
    storage,
    tensor.shape.reduce((a, b) => a * b, 1),
  );
}

/**
 * Reads a tensor from the source and uploads it in its storage type, as 'weights' buffers; with
 * `compress`, a block's linear-layer matrix is uploaded in that compressed sparse format (its values
 * in f32), which it must already satisfy (a SparseFormatError names the tensor otherwise).
 */
export async function uploadWeight(
  rt: GpuRuntime,
  source: WeightSource,
  tensor: CanonicalTensor,
  compress?: SparseExportFormat,
): Promise<HeldWeight> {
  if (compress && isBlockMatrix(tensor)) {
    const [rows, cols] = tensor.shape as [number, number];
    const dense = await source.read(tensor.name);
    const matrix =
      compress.format === 'nm'
        ? encodeNm(tensor.name, dense, rows, cols, compress.n, compress.m)
        : encodeBitmask(tensor.name, dense, rows, cols);
    const onGpu = await uploadCompressed(rt, matrix, tensor.name);
    compressed.set(onGpu.values, onGpu);
    return { buffer: onGpu.values, bytes: onGpu.bytes, destroy: () => onGpu.destroy() };
  }
  const storage = tensorStorage(source, tensor);
  if (storage === 'f32') return held(await rt.upload(tensor.name, 'weights', await source.read(tensor.name)));
  const halves = await (source.readHalf as NonNullable<WeightSource['readHalf']>)(tensor.name);
  // Element 2w lands in the low half of word w on a little-endian host (every WebGPU platform); an
  // odd count leaves the last word's high half zero, which no kernel reads.
  const words = new Uint32Array(Math.ceil(halves.length / 2));
  new Uint16Array(words.buffer).set(halves);
  const tracked = await rt.upload(tensor.name, 'weights', words);
  packed.set(tracked.buffer, storage);
  return held(tracked);
}

const held = (t: { buffer: GPUBuffer; entry: { size: number }; destroy(): void }): HeldWeight => ({
  buffer: t.buffer,
  bytes: t.entry.size,
  destroy: () => t.destroy(),
});

/** A block's linear-layer matrix ('layers.3.up.weight'): what pruning prunes and compression stores. */
function isBlockMatrix(tensor: CanonicalTensor): boolean {
  return tensor.shape.length === 2 && /^layers\.\d+\.[a-z]+\.weight$/.test(tensor.name);
}

/** The compressed matrix a weight buffer stands for, when uploadWeight compressed it. */
export function compressedWeight(buffer: GPUBuffer): CompressedMatrixOnGpu | undefined {
  return compressed.get(buffer);
}

/** How a weight buffer's elements are stored: f32 unless uploadWeight packed it. */
export function weightStorage(buffer: GPUBuffer): StorageType {
  return packed.get(buffer) ?? 'f32';
}
