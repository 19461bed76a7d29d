// A compressed weight matrix in either format, and what the rest of the engine asks of one without
// caring which: its exact bytes, validation, and the dense matrix back.

import { type BitmaskMatrix, bitmaskBytes, decodeBitmask, validateBitmask } from './bitmaskFormat';
import { decodeNm, type NmMatrix, nmBytes, validateNm } from './nmFormat';

export type CompressedMatrix = NmMatrix | BitmaskMatrix;

/** Bytes of the compressed arrays: what a file stores and the GPU buffers hold. */
export function compressedBytes(matrix: CompressedMatrix): number {
  return matrix.format === 'nm'
    ? nmBytes(matrix.rows, matrix.cols, matrix.n, matrix.m)
    : bitmaskBytes(matrix.rows, matrix.cols, matrix.values.length);
}

export function validateCompressed(matrix: CompressedMatrix): void {
  if (matrix.format === 'nm') validateNm(matrix);
  else validateBitmask(matrix);
}

export function decodeCompressed(matrix: CompressedMatrix): Float32Array {
  return matrix.format === 'nm' ? decodeNm(matrix) : decodeBitmask(matrix);
}
