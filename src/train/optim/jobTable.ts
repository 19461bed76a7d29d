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

/**
 * Renumbers one dispatch's entries (`members`, whose entries are a run first…first + count − 1) so
 * that the costliest come first; `costs[i]` is members[i]'s, and ties keep their order. Why: a CPU
 * adapter (SwiftShader) hands a dispatch's workgroups to its threads as 16 tasks, task i running
 * workgroups i, i + 16, i + 32, … one after another, and its threads take the tasks in order. With
 * the costliest workgroups first, what is left at the end are cheap ones that even the threads out;
 * in parameter order a task holding a large parameter could still be running alone at the end (the
 * tiny preset's fused steps took 14.2–14.7 ms a step, median of 16, and 9.5–10.4 ms costliest
 * first; bench/README.md). A GPU starts workgroups in index order too.
 */
export function costliestFirst(members: readonly { entry: number }[], costs: readonly number[]): void {
  if (costs.length !== members.length)
    throw new Error(`${members.length} entries to renumber but ${costs.length} costs`);
  const first = Math.min(...members.map((m) => m.entry));
  const order = members.map((_, i) => i).sort((a, b) => (costs[b] as number) - (costs[a] as number) || a - b);
  for (const [rank, i] of order.entries()) (members[i] as { entry: number }).entry = first + rank;
}
