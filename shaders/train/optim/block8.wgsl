// One step of the sums of an 8 × 8 block of a product held in registers, shared by the S-RSI's
// products and Grams (srsi.wgsl) and the fused step's history Q·Uᵀ (adapproxStep.wgsl), whose
// modules are compiled with this file (adapproxKernels.ts, adapproxStep.ts). x and z are rows 0–3 and 4–7 of
// the left operand at this step, y and u columns 0–3 and 4–7 of the right one; acc[j] holds column
// j's rows 0–3 and acc[8 + j] its rows 4–7. Why 8 × 8: on a CPU driver (SwiftShader) each of the
// 16 loads behind these arguments is a gather, against 64 multiply-adds (docs/engine.md, the
// direct matmul).
fn block_step(acc: ptr<function, array<vec4<f32>, 16>>, x: vec4<f32>, z: vec4<f32>, y: vec4<f32>, u: vec4<f32>) {
  (*acc)[0] += x * y.x;
  (*acc)[1] += x * y.y;
  (*acc)[2] += x * y.z;
  (*acc)[3] += x * y.w;
  (*acc)[4] += x * u.x;
  (*acc)[5] += x * u.y;
  (*acc)[6] += x * u.z;
  (*acc)[7] += x * u.w;
  (*acc)[8] += z * y.x;
  (*acc)[9] += z * y.y;
  (*acc)[10] += z * y.z;
  (*acc)[11] += z * y.w;
  (*acc)[12] += z * u.x;
  (*acc)[13] += z * u.y;
  (*acc)[14] += z * u.z;
  (*acc)[15] += z * u.w;
}

// Indices first…first + 3, each clamped to `last`: a quarter of an 8 × 8 block's rows or columns,
// where the block runs past the matrix's edge (what is past it is read again and dropped).
fn clamp4(first: u32, last: u32) -> vec4<u32> {
  return min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
}
