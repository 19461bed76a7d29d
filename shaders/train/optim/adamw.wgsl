// AdamW (Loshchilov & Hutter; PyTorch torch.optim.AdamW semantics, docs/algorithms/adamw.md), one
// fused pass per parameter: every element reads g, m, v, w once and writes m, v, w once.
//   w ← w·(1 − ηλ);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//   w ← w − (η / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + ε)
// The bias corrections are computed on the CPU in float64 and passed in.

// Params and its binding p come from shaders/train/optim/optimParams.wgsl (withOptimizerParams).
// f0 = 1 − ηλ, f1 = β1, f2 = 1 − β1, f3 = β2, f4 = 1 − β2, f5 = η / (1 − β1ᵗ),
// f6 = 1 / sqrt(1 − β2ᵗ), f7 = ε (the complements are formed in float64 on the CPU)
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
    if (i < p.n) {
      let g = grad[p.o0 + i];
      let mi = p.f1 * m[p.o1 + i] + p.f2 * g;
      let vi = p.f3 * v[p.o2 + i] + p.f4 * (g * g);
      m[p.o1 + i] = mi;
      v[p.o2 + i] = vi;
      let denom = sqrt(vi) * p.f6 + p.f7;
      w[p.o3 + i] = w[p.o3 + i] * p.f0 - p.f5 * mi / denom;
    }
  }
}
