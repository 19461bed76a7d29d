// What the factored optimizers' shaders share (Adafactor, CAME, their statistics, and Adapprox),
// prepended to each by its wrapper (withOptimizerCommon in train/optim/passes.ts). Each entry point
// declares its own uniform block next to it.

// Û = G / sqrt(X̂) for the factored estimate, as HF computes it: rsqrt(R/mean R) · rsqrt(C) · G.
fn factored_u(g: f32, r: f32, c: f32, mean_r: f32) -> f32 {
  return g * inverseSqrt(r / mean_r) * inverseSqrt(c);
}
