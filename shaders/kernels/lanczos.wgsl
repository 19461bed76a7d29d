// The vector updates of the Lanczos recurrence (src/kernels/lanczos.ts), one invocation per
// element. The coefficients stay on the GPU: coef is a window of the record that the reductions
// fill, starting at step j's slots: coef[0] = β_j², coef[1] = α_j, coef[2] = β_{j+1}² (squared
// norms, as the sum-of-squares reduction leaves them).

struct Params {
  n: u32,
  off_coef: u32,
  off_w: u32,
  off_v: u32,
  off_u: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// w ← w − α_j·v_j − β_j·v_{j−1}, with v = v_j and u = v_{j−1} (zero, with β_1 = 0, at j = 1).
@group(0) @binding(1) var<storage, read> or_coef: array<f32>;
@group(0) @binding(2) var<storage, read_write> or_w: array<f32>;
@group(0) @binding(3) var<storage, read> or_v: array<f32>;
@group(0) @binding(4) var<storage, read> or_u: array<f32>;

fn element(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 256u;
}

@compute @workgroup_size(256)
fn orthogonalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < p.n) {
    let beta = sqrt(or_coef[p.off_coef]);
    let alpha = or_coef[p.off_coef + 1u];
    let k = p.off_w + i;
    or_w[k] = or_w[k] - alpha * or_v[p.off_v + i] - beta * or_u[p.off_u + i];
  }
}

// u ← w / β_{j+1}: v_{j+1} takes the place of v_{j−1}, no longer needed. A zero norm means the
// Krylov space is exhausted (an invariant subspace); v_{j+1} = 0 then keeps the later coefficients
// zero instead of dividing by zero, and the host stops the tridiagonal matrix there.
@group(0) @binding(1) var<storage, read> nm_coef: array<f32>;
@group(0) @binding(2) var<storage, read> nm_w: array<f32>;
@group(0) @binding(3) var<storage, read_write> nm_u: array<f32>;

@compute @workgroup_size(256)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < p.n) {
    let b2 = nm_coef[p.off_coef + 2u];
    nm_u[p.off_u + i] = select(0.0, nm_w[p.off_w + i] / sqrt(b2), b2 > 0.0);
  }
}

// All of step j's vector work in one workgroup, for vectors that fit one binding: α_j = v·w,
// w ← w − α_j·v − β_j·u, β_{j+1}² = ‖w‖² and u ← w/β_{j+1} (as normalize), with α_j and β_{j+1}²
// written to the record. Each invocation owns the elements t, t + 256, …, so the passes over w and
// u need no barrier between them; the two sums are workgroup trees. O(n) work against the
// product's O(n²), in one dispatch instead of five.
@group(0) @binding(1) var<storage, read_write> st_coef: array<f32>;
@group(0) @binding(2) var<storage, read_write> st_w: array<f32>;
@group(0) @binding(3) var<storage, read> st_v: array<f32>;
@group(0) @binding(4) var<storage, read_write> st_u: array<f32>;

var<workgroup> partial: array<f32, 256>;

fn workgroup_sum(x: f32, t: u32) -> f32 {
  partial[t] = x;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] += partial[t + stride];
    }
    workgroupBarrier();
  }
  let s = partial[0];
  workgroupBarrier();
  return s;
}

@compute @workgroup_size(256)
fn step(@builtin(local_invocation_index) t: u32) {
  var dot = 0.0;
  for (var i = t; i < p.n; i += 256u) {
    dot += st_v[p.off_v + i] * st_w[p.off_w + i];
  }
  let alpha = workgroup_sum(dot, t);
  let beta = sqrt(st_coef[p.off_coef]);
  var sq = 0.0;
  for (var i = t; i < p.n; i += 256u) {
    let x = st_w[p.off_w + i] - alpha * st_v[p.off_v + i] - beta * st_u[p.off_u + i];
    st_w[p.off_w + i] = x;
    sq += x * x;
  }
  let b2 = workgroup_sum(sq, t);
  for (var i = t; i < p.n; i += 256u) {
    st_u[p.off_u + i] = select(0.0, st_w[p.off_w + i] / sqrt(b2), b2 > 0.0);
  }
  if (t == 0u) {
    st_coef[p.off_coef + 1u] = alpha;
    st_coef[p.off_coef + 2u] = b2;
  }
}
