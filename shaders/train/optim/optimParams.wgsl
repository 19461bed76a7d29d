// The uniform block the factored optimizers' shaders share (Adafactor, CAME, their statistics, and
// Adapprox), prepended to each by its wrapper (withOptimizerParams in train/optim/passes.ts):
// element counts and window offsets (o*), then scalars (f*) whose meaning each entry point documents.

struct Params {
  n: u32,
  start: u32,
  cols: u32,
  pbase: u32,
  o0: u32,
  o1: u32,
  o2: u32,
  o3: u32,
  o4: u32,
  o5: u32,
  o6: u32,
  o7: u32,
  f0: f32,
  f1: f32,
  f2: f32,
  f3: f32,
  f4: f32,
  f5: f32,
  f6: f32,
  f7: f32,
  f8: f32,
  f9: f32,
  f10: f32,
  f11: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Û = G / sqrt(X̂) for the factored estimate, as HF computes it: rsqrt(R/mean R) · rsqrt(C) · G.
fn factored_u(g: f32, r: f32, c: f32, mean_r: f32) -> f32 {
  return g * inverseSqrt(r / mean_r) * inverseSqrt(c);
}
