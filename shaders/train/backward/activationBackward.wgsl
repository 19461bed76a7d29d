// Backward of the MLP activations (activation.wgsl). This file is compiled after activation.wgsl,
// in one module, so the derivatives use the forward's own erf_f32 and activate() (and its
// element indexing) and read the forward's Params: forward and backward cannot drift apart. Their
// storage bindings are declared here.
//   map_backward:         dx = dy · f′(x)
//   map_backward_inplace: dy = dy · f′(x)
//   gated_backward:       with out = f(a) · b (SwiGLU: f = SiLU, a = gate, b = up), in place:
//                         a ← dout · b · f′(a),  b ← dout · f(a)
// FN selects f as in activation.wgsl: 0 GELU (erf), 1 GELU tanh approximation, 2 ReLU (f′(0) = 0,
// as PyTorch), 3 SiLU.

fn derivative(x: f32) -> f32 {
  switch FN {
    case 0u: {
      // Φ(x) + x·φ(x), φ(x) = exp(−x²/2)/√(2π).
      return 0.5 * (1.0 + erf_f32(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x);
    }
    case 1u: {
      // u = √(2/π)(x + 0.044715x³), t = tanh u: f′ = (1 + t)/2 + x·sech²(u)·√(2/π)(1 + 3·0.044715x²)/2.
      // With e = exp(2|u|) (|u| clamped at 10, as in tanh_f32): tanh|u| = 1 − 2/(e + 1) and
      // sech² u = 4e/(e + 1)², which keeps its relative accuracy where 1 − t² would cancel.
      let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
      let e = exp(2.0 * min(abs(u), 10.0));
      let t = sign(u) * (1.0 - 2.0 / (e + 1.0));
      let sech2 = 4.0 * e / ((e + 1.0) * (e + 1.0));
      return 0.5 * (1.0 + t) + 0.5 * x * sech2 * 0.7978845608028654 * (1.0 + 0.134145 * x * x);
    }
    case 2u: {
      return select(0.0, 1.0, x > 0.0);
    }
    default: {
      // σ(x)·(1 + x·(1 − σ(x))), with 1 − σ(x) = σ(−x) computed directly rather than by cancelling.
      let s = 1.0 / (1.0 + exp(min(-x, 80.0)));
      let s_neg = 1.0 / (1.0 + exp(min(x, 80.0)));
      return s * (1.0 + x * s_neg);
    }
  }
}

@group(0) @binding(1) var<storage, read> bw_x: array<f32>;
@group(0) @binding(2) var<storage, read> bw_dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> bw_dx: array<f32>;

@compute @workgroup_size(256)
fn map_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = element(gid, groups);
  if (e < p.rows * p.cols) {
    let r = e / p.cols;
    let c = e % p.cols;
    let x = bw_x[p.off_a + r * p.ld_a + c];
    bw_dx[p.off_y + r * p.ld_y + c] = bw_dy[p.off_b + r * p.ld_b + c] * derivative(x);
  }
}

@group(0) @binding(1) var<storage, read> bwi_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> bwi_dy: array<f32>;

@compute @workgroup_size(256)
fn map_backward_inplace(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let e = element(gid, groups);
  if (e < p.rows * p.cols) {
    let r = e / p.cols;
    let c = e % p.cols;
    let i = p.off_b + r * p.ld_b + c;
    bwi_dy[i] = bwi_dy[i] * derivative(bwi_x[p.off_a + r * p.ld_a + c]);
  }
}

@group(0) @binding(1) var<storage, read_write> bwg_a: array<f32>;
@group(0) @binding(2) var<storage, read_write> bwg_b: array<f32>;
@group(0) @binding(3) var<storage, read> bwg_dout: array<f32>;

@compute @workgroup_size(256)
fn gated_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = element(gid, groups);
  if (e < p.rows * p.cols) {
    let r = e / p.cols;
    let c = e % p.cols;
    let ia = p.off_a + r * p.ld_a + c;
    let ib = p.off_b + r * p.ld_b + c;
    let a = bwg_a[ia];
    let b = bwg_b[ib];
    let dout = bwg_dout[p.off_y + r * p.ld_y + c];
    bwg_a[ia] = dout * b * derivative(a);
    bwg_b[ib] = dout * activate(a);
  }
}
