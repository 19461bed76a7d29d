// Elementwise vector kernels. Each invocation handles one element; the grid may be folded over two
// dimensions when a vector needs more than maxComputeWorkgroupsPerDimension workgroups, and the
// wrapper splits vectors longer than one binding into windows (off_x, off_y are window offsets).

struct Params {
  n: u32,
  off_x: u32,
  off_y: u32,
  // axpy: the multiplier a; scale: the factor; soft_threshold: the threshold τ ≥ 0.
  a: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn element(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 256u;
}

// y ← a·x + y
@group(0) @binding(1) var<storage, read> axpy_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> axpy_y: array<f32>;

@compute @workgroup_size(256)
fn axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < p.n) {
    axpy_y[p.off_y + i] = fma(p.a, axpy_x[p.off_x + i], axpy_y[p.off_y + i]);
  }
}

// x ← a·x
@group(0) @binding(1) var<storage, read_write> scale_x: array<f32>;

@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < p.n) {
    scale_x[p.off_x + i] = p.a * scale_x[p.off_x + i];
  }
}

// y ← S_τ(x) = sign(x)·max(|x| − τ, 0), the proximal operator of τ‖·‖₁ (FISTA's shrinkage step).
@group(0) @binding(1) var<storage, read> shrink_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> shrink_y: array<f32>;

@compute @workgroup_size(256)
fn soft_threshold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < p.n) {
    let x = shrink_x[p.off_x + i];
    shrink_y[p.off_y + i] = sign(x) * max(abs(x) - p.a, 0.0);
  }
}
