// AdamW (Loshchilov & Hutter; PyTorch torch.optim.AdamW semantics, docs/algorithms/adamw.md), one
// fused pass per parameter: every element reads g, m, v, w once and writes m, v, w once.
//   w ← w·(1 − ηλ);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//   w ← w − (η / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + ε)
// The bias corrections are computed on the CPU in float64 and passed in.

// n elements of the window; grad, m, v, w: each operand's window offset; decay = 1 − ηλ,
// step = η / (1 − β1ᵗ), inv_bias2 = 1 / sqrt(1 − β2ᵗ) (the complements are formed in float64 on the CPU)
struct AdamwParams {
  n: u32,
  grad: u32,
  m: u32,
  v: u32,
  w: u32,
  decay: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  step: f32,
  inv_bias2: f32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> ap: AdamwParams;

@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> w: array<f32>;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let first = (wg.x + wg.y * groups.x) * 2048u;
  for (var r = 0u; r < 8u; r++) {
    let i = first + r * 256u + t;
    if (i < ap.n) {
      let g = grad[ap.grad + i];
      let mi = ap.beta1 * m[ap.m + i] + ap.one_minus_beta1 * g;
      let vi = ap.beta2 * v[ap.v + i] + ap.one_minus_beta2 * (g * g);
      m[ap.m + i] = mi;
      v[ap.v + i] = vi;
      let denom = sqrt(vi) * ap.inv_bias2 + ap.eps;
      w[ap.w + i] = w[ap.w + i] * ap.decay - ap.step * mi / denom;
    }
  }
}
