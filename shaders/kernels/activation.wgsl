// Activations of the transformer MLPs, elementwise over a rows × cols window (leading dimensions
// let an operand be a column block of a wider matrix, e.g. one half of a fused gate/up product):
//   map:           y = f(x)
//   map_inplace:   x = f(x)
//   gated:         y = f(a) · b  (SwiGLU with f = SiLU: Llama's w2(silu(w1 x) ⊙ w3 x))
//   gated_inplace: a = f(a) · b
//   bias_add:      y[r, c] += bias[c]  (the Linear biases of GPT-2 and OPT)
// FN selects f: 0 GELU (exact, with erf), 1 GELU tanh approximation (GPT-2's gelu_new),
// 2 ReLU (OPT), 3 SiLU.

struct Params {
  rows: u32,
  cols: u32,
  ld_a: u32,
  ld_b: u32,
  ld_y: u32,
  // Offsets of x / a / bias (off_a), b (off_b) and y (off_y).
  off_a: u32,
  off_b: u32,
  off_y: u32,
}

override FN: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;

// erf in f32: x + x·P(x²) on |x| < 1 and 1 − exp(Q(|x|)) on 1 ≤ |x| < 4 (Q fits log erfc), with
// erf = ±1 beyond 4 (erfc(4) = 1.5e-8 is below half an ulp of 1). The polynomials are weighted
// least-squares fits made for this file; in f32 arithmetic with a correctly rounded exp the error
// is at most 1.05 ulp (1.31 without fused multiply-add), and 1.62 ulp if exp is off by 3 ulp,
// measured against a 30-digit erf on 90 000 points of [0, 4.5]. That is an absolute error below
// 3.3 · 2^-24 everywhere, which is what GELU's error bound needs.
fn erf_f32(x: f32) -> f32 {
  let t = abs(x);
  if (t < 1.0) {
    let s = x * x;
    var r = 7.889397966209799e-05;
    r = fma(r, s, -0.0008020923123694956);
    r = fma(r, s, 0.0051895445212721825);
    r = fma(r, s, -0.02685444988310337);
    r = fma(r, s, 0.11283600330352783);
    r = fma(r, s, -0.3761262595653534);
    r = fma(r, s, 0.12837916612625122);
    return fma(r, x, x);
  }
  if (t >= 4.0) {
    return sign(x);
  }
  var r = 5.448829369925079e-07;
  r = fma(r, t, -2.9557679226854816e-05);
  r = fma(r, t, 0.0004900693893432617);
  r = fma(r, t, -0.004373537842184305);
  r = fma(r, t, 0.02556726709008217);
  r = fma(r, t, -0.1088973879814148);
  r = fma(r, t, -0.6328282356262207);
  r = fma(r, t, -1.1297582387924194);
  r = fma(r, t, 0.00022350285144057125);
  return sign(x) * (1.0 - exp(r));
}

// tanh(u) = sign(u) · (1 − 2 / (exp(2|u|) + 1)), with |u| clamped at 10 (tanh(10) rounds to 1) so
// that exp never overflows; the built-in tanh may be computed as sinh/cosh, which does.
fn tanh_f32(u: f32) -> f32 {
  let e = exp(2.0 * min(abs(u), 10.0));
  return sign(u) * (1.0 - 2.0 / (e + 1.0));
}

fn activate(x: f32) -> f32 {
  switch FN {
    case 0u: {
      return 0.5 * x * (1.0 + erf_f32(x * 0.7071067811865476));
    }
    case 1u: {
      // √(2/π) (x + 0.044715 x³)
      let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
      return 0.5 * x * (1.0 + tanh_f32(u));
    }
    case 2u: {
      return max(x, 0.0);
    }
    default: {
      // x · sigmoid(x); exp(−x) is capped where x · sigmoid(x) has long underflowed to 0 anyway.
      return x / (1.0 + exp(min(-x, 80.0)));
    }
  }
}

fn element(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 256u;
}

@group(0) @binding(1) var<storage, read> map_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> map_y: array<f32>;

@compute @workgroup_size(256)
fn map(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = element(gid, groups);
  if (e < p.rows * p.cols) {
    let r = e / p.cols;
    let c = e % p.cols;
    map_y[p.off_y + r * p.ld_y + c] = activate(map_x[p.off_a + r * p.ld_a + c]);
  }
}

@group(0) @binding(1) var<storage, read_write> inplace_x: array<f32>;

@compute @workgroup_size(256)
fn map_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = element(gid, groups);
  if (e < p.rows * p.cols) {
    let i = p.off_a + (e / p.cols) * p.ld_a + e % p.cols;
    inplace_x[i] = activate(inplace_x[i]);
  }
}

@group(0) @binding(1) var<storage, read> gated_a: array<f32>;
@group(0) @binding(2) var<storage, read> gated_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> gated_y: array<f32>;

@compute @workgroup_size(256)
fn gated(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = element(gid, groups);
  if (e < p.rows * p.cols) {
    let r = e / p.cols;
    let c = e % p.cols;
    let a = gated_a[p.off_a + r * p.ld_a + c];
    gated_y[p.off_y + r * p.ld_y + c] = activate(a) * gated_b[p.off_b + r * p.ld_b + c];
  }
}

@group(0) @binding(1) var<storage, read_write> gated_inplace_a: array<f32>;
@group(0) @binding(2) var<storage, read> gated_inplace_b: array<f32>;

@compute @workgroup_size(256)
fn gated_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = element(gid, groups);
  if (e < p.rows * p.cols) {
    let r = e / p.cols;
    let c = e % p.cols;
    let i = p.off_a + r * p.ld_a + c;
    gated_inplace_a[i] = activate(gated_inplace_a[i]) * gated_inplace_b[p.off_b + r * p.ld_b + c];
  }
}

@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias_y: array<f32>;

@compute @workgroup_size(256)
fn bias_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = element(gid, groups);
  if (e < p.rows * p.cols) {
    let r = e / p.cols;
    let c = e % p.cols;
    let i = p.off_y + r * p.ld_y + c;
    bias_y[i] = bias_y[i] + bias[p.off_a + c];
  }
}
