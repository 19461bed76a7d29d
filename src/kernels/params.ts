// Grid folding shared by the kernel wrappers. Uniform blocks are packed by their kernel's
// declaration (kernels/kernel.ts).

/** Splits a workgroup count too large for one dimension over two: x · y ≥ count. */
export function foldGrid(count: number, maxPerDimension: number): [number, number] {
  if (count <= maxPerDimension) return [count, 1];
  const y = Math.ceil(count / maxPerDimension);
  if (y > maxPerDimension) {
    throw new RangeError(`${count} workgroups exceed ${maxPerDimension}² even when folded`);
  }
  return [Math.ceil(count / y), y];
}
