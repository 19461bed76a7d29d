// The rank-1 factored statistics of Adafactor and CAME (Shazeer & Stern 2018; Luo et al. 2023;
// docs/algorithms/adafactor.md, came.md): exponential moving averages of the row means and column means of a
// per-element quantity X of an m × n gradient, kept as R (m) and C (n) instead of an m × n matrix:
//   R ← β·R + (1−β)·rowmean(X),   C ← β·C + (1−β)·colmean(X),   X̂ = (R / mean R) ⊗ C.
// X is either G² + ε1 (the second moment, *_sq) or CAME's instability (Û − M)² + ε2 (*_res), formed
// on the fly so that no m × n temporary exists. Rows: one invocation per row, summing along it
// serially (a workgroup tree per row cost 1.3 ms per row in barriers on SwiftShader). Columns: one
// invocation per column, summing down the rows of a window serially (reads are coalesced across
// the workgroup); a matrix taller than one binding is processed in row windows, the first applying
// β and the later ones accumulating (f0 = β, then 1).
// Also here: the dense second moment of vectors and the partial sums of Û² (for the update clipping
// RMS) in the layout of summing optimizer passes (8192 elements per workgroup, 32 per invocation,
// see train/optim/passes.ts).

// The update-clipping factor 1 / max(1, RMS(Û)/d) from Σ Û² and 1/N.
fn clip_factor(sum_u2: f32, inv_count: f32, d: f32) -> f32 {
  return 1.0 / max(1.0, sqrt(sum_u2 * inv_count) / d);
}

var<workgroup> partial: array<f32, 256>;

fn tree_sum(t: u32) {
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] = partial[t] + partial[t + stride];
    }
    workgroupBarrier();
  }
}

// ---- X = G² + ε1. Uniform: n rows in the window from global row `start`; o0 = first G element of the
// window, o1 = target (R or C) offset; f0 = β (or 1 for later column windows), f1 = (1−β)/length of
// the mean, f2 = ε1.

@group(0) @binding(1) var<storage, read> sq_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> sq_target: array<f32>;

fn sq_at(row: u32, col: u32) -> f32 {
  let g = sq_g[p.o0 + row * p.cols + col];
  return g * g + p.f2;
}

@compute @workgroup_size(64)
fn row_sq(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = (wg.x + wg.y * groups.x) * 64u + t;
  if (row >= p.n) {
    return;
  }
  var acc = 0.0;
  for (var j = 0u; j < p.cols; j++) {
    acc += sq_at(row, j);
  }
  let i = p.o1 + p.start + row;
  sq_target[i] = p.f0 * sq_target[i] + p.f1 * acc;
}

@compute @workgroup_size(256)
fn col_sq(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let col = (wg.x + wg.y * groups.x) * 256u + t;
  if (col >= p.cols) {
    return;
  }
  var acc = 0.0;
  for (var row = 0u; row < p.n; row++) {
    acc += sq_at(row, col);
  }
  let i = p.o1 + col;
  sq_target[i] = p.f0 * sq_target[i] + p.f1 * acc;
}

// ---- X = (Û − M)² + ε2, CAME's instability, with Û the clipped update of this step and M the
// momentum already updated with it. o0 = G window, o1 = M window, o2 = R, o3 = C, o4 = the
// parameter's scalar slots (ΣR at +0, ΣÛ² at +1), o5 = target; f0, f1 as above, f2 = ε2,
// f3 = 1/rows, f4 = 1/(rows·cols), f5 = d.

@group(0) @binding(1) var<storage, read> res_g: array<f32>;
@group(0) @binding(2) var<storage, read> res_m: array<f32>;
@group(0) @binding(3) var<storage, read> res_r: array<f32>;
@group(0) @binding(4) var<storage, read> res_c: array<f32>;
@group(0) @binding(5) var<storage, read> res_s: array<f32>;
@group(0) @binding(6) var<storage, read_write> res_target: array<f32>;

fn res_at(row: u32, col: u32) -> f32 {
  let e = row * p.cols + col;
  let mean_r = res_s[p.o4] * p.f3;
  let clip = clip_factor(res_s[p.o4 + 1u], p.f4, p.f5);
  let u = factored_u(res_g[p.o0 + e], res_r[p.o2 + p.start + row], res_c[p.o3 + col], mean_r) * clip;
  let d = u - res_m[p.o1 + e];
  return d * d + p.f2;
}

@compute @workgroup_size(64)
fn row_res(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = (wg.x + wg.y * groups.x) * 64u + t;
  if (row >= p.n) {
    return;
  }
  var acc = 0.0;
  for (var j = 0u; j < p.cols; j++) {
    acc += res_at(row, j);
  }
  let i = p.o5 + p.start + row;
  res_target[i] = p.f0 * res_target[i] + p.f1 * acc;
}

@compute @workgroup_size(256)
fn col_res(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let col = (wg.x + wg.y * groups.x) * 256u + t;
  if (col >= p.cols) {
    return;
  }
  var acc = 0.0;
  for (var row = 0u; row < p.n; row++) {
    acc += res_at(row, col);
  }
  let i = p.o5 + col;
  res_target[i] = p.f0 * res_target[i] + p.f1 * acc;
}

// ---- Σ Û² of a factored parameter, one partial per workgroup. o0 = G window, o1 = R, o2 = C,
// o3 = scalar slots (ΣR at +0); f3 = 1/rows. `start` is the window's first element.

@group(0) @binding(1) var<storage, read> u2_g: array<f32>;
@group(0) @binding(2) var<storage, read> u2_r: array<f32>;
@group(0) @binding(3) var<storage, read> u2_c: array<f32>;
@group(0) @binding(4) var<storage, read> u2_s: array<f32>;
@group(0) @binding(5) var<storage, read_write> u2_partials: array<f32>;

@compute @workgroup_size(256)
fn factored_u2(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let block = wg.x + wg.y * groups.x;
  let first = block * 8192u;
  let mean_r = u2_s[p.o3] * p.f3;
  var acc = 0.0;
  for (var r = 0u; r < 32u; r++) {
    let i = first + r * 256u + t;
    if (i < p.n) {
      let e = p.start + i;
      let u = factored_u(u2_g[p.o0 + i], u2_r[p.o1 + e / p.cols], u2_c[p.o2 + e % p.cols], mean_r);
      acc += u * u;
    }
  }
  partial[t] = acc;
  tree_sum(t);
  if (t == 0u && first < p.n) {
    u2_partials[p.pbase + block] = partial[0];
  }
}

// ---- Vectors: V ← β·V + (1−β)·(G² + ε1) in place, and Σ Û² with Û = G / sqrt(V). o0 = G window,
// o1 = V window; f0 = β, f1 = 1 − β, f2 = ε1.

@group(0) @binding(1) var<storage, read> dense_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dense_v: array<f32>;
@group(0) @binding(3) var<storage, read_write> dense_partials: array<f32>;

@compute @workgroup_size(256)
fn dense_sq(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let block = wg.x + wg.y * groups.x;
  let first = block * 8192u;
  var acc = 0.0;
  for (var r = 0u; r < 32u; r++) {
    let i = first + r * 256u + t;
    if (i < p.n) {
      let g = dense_g[p.o0 + i];
      let v = p.f0 * dense_v[p.o1 + i] + p.f1 * (g * g + p.f2);
      dense_v[p.o1 + i] = v;
      let u = g * inverseSqrt(v);
      acc += u * u;
    }
  }
  partial[t] = acc;
  tree_sum(t);
  if (t == 0u && first < p.n) {
    dense_partials[p.pbase + block] = partial[0];
  }
}
