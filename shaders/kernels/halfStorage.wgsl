// Decoding of 16-bit values stored two per u32 word (element 2w in the low half of word w, as a
// little-endian file lays them out), shared by the kernels whose operands may be half-precision
// weights (see src/kernels/storage.ts). The storage-type codes: 0 f32, 1 f16, 2 bf16.

// One element of a packed word: the high half when `high`, else the low half. F16 is converted by
// unpack2x16float, so no shader-f16 feature is needed; a BF16 value is the top half of an f32, so
// shifting it into place is exact.
fn unpack_half(word: u32, high: bool, bf16: bool) -> f32 {
  if (bf16) {
    if (high) {
      return bitcast<f32>(word & 0xffff0000u);
    }
    return bitcast<f32>(word << 16u);
  }
  let pair = unpack2x16float(word);
  if (high) {
    return pair.y;
  }
  return pair.x;
}
