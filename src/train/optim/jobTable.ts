// The tables of the batched optimizer kernels (the S-RSI batch, srsiGpuBatch.ts; the fused steps,
// adapproxStep.ts): one fixed-size entry of u32 words per workgroup, which the kernel reads by its
// workgroup's index. An f32 field travels as its bits.

const bits = new DataView(new ArrayBuffer(4));

/** The bits of x rounded to f32, as a table word. */
export function f32Bits(x: number): number {
  bits.setFloat32(0, x, true);
  return bits.getUint32(0, true);
}

/** Writes entry `entry` of a table of `size`-word entries, refusing a word that is not a u32. */
export function setEntry(
  table: Uint32Array,
  entry: number,
  size: number,
  words: readonly number[],
  what: string,
): void {
  if (words.length !== size) throw new Error(`${what}: an entry has ${words.length} words, not ${size}`);
  for (const w of words)
    if (!Number.isInteger(w) || w < 0 || w > 0xffffffff)
      throw new RangeError(`${what} entry ${entry}: ${w} is not a u32`);
  table.set(words, entry * size);
}
