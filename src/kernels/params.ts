// Packs a kernel's uniform block. Every field of our Params structs is a 4-byte u32 or f32, and a
// uniform block's size rounds up to 16 bytes.

export type ParamField = ['u32' | 'f32', number];

export function packParams(fields: readonly ParamField[]): ArrayBuffer {
  const bytes = Math.ceil((fields.length * 4) / 16) * 16;
  const buffer = new ArrayBuffer(bytes);
  const view = new DataView(buffer);
  fields.forEach(([type, value], index) => {
    if (type === 'u32') {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new RangeError(`uniform field ${index} = ${value} is not a u32`);
      }
      view.setUint32(index * 4, value, true);
    } else {
      view.setFloat32(index * 4, value, true);
    }
  });
  return buffer;
}

/** Splits a workgroup count too large for one dimension over two: x · y ≥ count. */
export function foldGrid(count: number, maxPerDimension: number): [number, number] {
  if (count <= maxPerDimension) return [count, 1];
  const y = Math.ceil(count / maxPerDimension);
  if (y > maxPerDimension) {
    throw new RangeError(`${count} workgroups exceed ${maxPerDimension}² even when folded`);
  }
  return [Math.ceil(count / y), y];
}
