// The one error a compressed weight format raises: a matrix that cannot be encoded in the format it
// was asked for, or compressed arrays (read from a file or built by hand) that do not describe a
// valid matrix. It names the tensor so that a person can find the bad weight in a checkpoint.

export class SparseFormatError extends Error {
  constructor(
    /** The tensor's name, as the checkpoint spells it. */
    readonly tensor: string,
    detail: string,
  ) {
    super(`${tensor}: ${detail}`);
    this.name = 'SparseFormatError';
  }
}

/** A stored entry is any whose bits are not +0: −0 is kept as a value, so decoding is bit-exact. */
export function isStored(bits: number): boolean {
  return bits !== 0;
}

/** Throws unless rows and cols are integers ≥ 1: the shape check every format starts with. */
export function checkSparseShape(name: string, rows: number, cols: number): void {
  for (const [what, v] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new SparseFormatError(name, `${what} = ${v} must be an integer ≥ 1`);
  }
}
