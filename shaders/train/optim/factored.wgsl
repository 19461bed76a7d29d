// The rank-1 factored statistics of Adafactor and CAME (Shazeer & Stern 2018; Luo et al. 2023;
// docs/algorithms/adafactor.md, came.md): exponential moving averages of the row means and column means of a
// per-element quantity X of an m × n gradient, kept as R (m) and C (n) instead of an m × n matrix:
//   R ← β·R + (1−β)·rowmean(X),   C ← β·C + (1−β)·colmean(X),   X̂ = (R / mean R) ⊗ C.
// X is either G² + ε1 (the second moment, *_sq) or CAME's instability (Û − M)² + ε2 (*_res), formed
// on the fly so that no m × n temporary exists. Rows: one invocation per row, summing along it
// serially (a workgroup tree per row cost 1.3 ms per row in barriers on SwiftShader). Columns: one
// invocation per column, summing down the rows of a window serially (reads are coalesced across
// the workgroup); a matrix taller than one binding is processed in row windows, the first applying
// β and the later ones accumulating (beta = β, then 1). Each group of entry points has its own
// uniform block: n is the window's length (rows, or elements), a field named after an operand its
// offset inside that operand's binding.
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

// ---- X = G² + ε1. n rows in the window from global row `start`; g = first G element of the
// window, dest = R or C; beta = β (or 1 for later column windows), weight = (1−β)/length of the
// mean, eps = ε1.

struct SqParams {
  n: u32,
  start: u32,
  cols: u32,
  g: u32,
  dest: u32,
  beta: f32,
  weight: f32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> sqp: SqParams;

@group(0) @binding(1) var<storage, read> sq_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> sq_target: array<f32>;

fn sq_at(row: u32, col: u32) -> f32 {
  let g = sq_g[sqp.g + row * sqp.cols + col];
  return g * g + sqp.eps;
}

@compute @workgroup_size(64)
fn row_sq(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = (wg.x + wg.y * groups.x) * 64u + t;
  if (row >= sqp.n) {
    return;
  }
  var acc = 0.0;
  for (var j = 0u; j < sqp.cols; j++) {
    acc += sq_at(row, j);
  }
  let i = sqp.dest + sqp.start + row;
  sq_target[i] = sqp.beta * sq_target[i] + sqp.weight * acc;
}

@compute @workgroup_size(256)
fn col_sq(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let col = (wg.x + wg.y * groups.x) * 256u + t;
  if (col >= sqp.cols) {
    return;
  }
  var acc = 0.0;
  for (var row = 0u; row < sqp.n; row++) {
    acc += sq_at(row, col);
  }
  let i = sqp.dest + col;
  sq_target[i] = sqp.beta * sq_target[i] + sqp.weight * acc;
}

// ---- X = (Û − M)² + ε2, CAME's instability, with Û the clipped update of this step and M the
// momentum already updated with it. g = G window, m = M window, r = R, c = C, slot = the
// parameter's scalar slots (ΣR at +0, ΣÛ² at +1), dest = R or C; beta, weight as above, eps = ε2,
// inv_rows = 1/rows, inv_count = 1/(rows·cols), d = the clip threshold.

struct ResParams {
  n: u32,
  start: u32,
  cols: u32,
  g: u32,
  m: u32,
  r: u32,
  c: u32,
  slot: u32,
  dest: u32,
  beta: f32,
  weight: f32,
  eps: f32,
  inv_rows: f32,
  inv_count: f32,
  d: f32,
}

@group(0) @binding(0) var<uniform> rsp: ResParams;

@group(0) @binding(1) var<storage, read> res_g: array<f32>;
@group(0) @binding(2) var<storage, read> res_m: array<f32>;
@group(0) @binding(3) var<storage, read> res_r: array<f32>;
@group(0) @binding(4) var<storage, read> res_c: array<f32>;
@group(0) @binding(5) var<storage, read> res_s: array<f32>;
@group(0) @binding(6) var<storage, read_write> res_target: array<f32>;

fn res_at(row: u32, col: u32) -> f32 {
  let e = row * rsp.cols + col;
  let mean_r = res_s[rsp.slot] * rsp.inv_rows;
  let clip = clip_factor(res_s[rsp.slot + 1u], rsp.inv_count, rsp.d);
  let u = factored_u(res_g[rsp.g + e], res_r[rsp.r + rsp.start + row], res_c[rsp.c + col], mean_r) * clip;
  let d = u - res_m[rsp.m + e];
  return d * d + rsp.eps;
}

@compute @workgroup_size(64)
fn row_res(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = (wg.x + wg.y * groups.x) * 64u + t;
  if (row >= rsp.n) {
    return;
  }
  var acc = 0.0;
  for (var j = 0u; j < rsp.cols; j++) {
    acc += res_at(row, j);
  }
  let i = rsp.dest + rsp.start + row;
  res_target[i] = rsp.beta * res_target[i] + rsp.weight * acc;
}

@compute @workgroup_size(256)
fn col_res(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let col = (wg.x + wg.y * groups.x) * 256u + t;
  if (col >= rsp.cols) {
    return;
  }
  var acc = 0.0;
  for (var row = 0u; row < rsp.n; row++) {
    acc += res_at(row, col);
  }
  let i = rsp.dest + col;
  res_target[i] = rsp.beta * res_target[i] + rsp.weight * acc;
}

// ---- Σ Û² of a factored parameter, one partial per workgroup, from partials[pbase]. g = G window,
// r = R, c = C, slot = scalar slots (ΣR at +0); `start` is the window's first element.

struct U2Params {
  n: u32,
  start: u32,
  cols: u32,
  pbase: u32,
  g: u32,
  r: u32,
  c: u32,
  slot: u32,
  inv_rows: f32,
}

@group(0) @binding(0) var<uniform> u2p: U2Params;

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
  let mean_r = u2_s[u2p.slot] * u2p.inv_rows;
  var acc = 0.0;
  for (var r = 0u; r < 32u; r++) {
    let i = first + r * 256u + t;
    if (i < u2p.n) {
      let e = u2p.start + i;
      let u = factored_u(u2_g[u2p.g + i], u2_r[u2p.r + e / u2p.cols], u2_c[u2p.c + e % u2p.cols], mean_r);
      acc += u * u;
    }
  }
  partial[t] = acc;
  tree_sum(t);
  if (t == 0u && first < u2p.n) {
    u2_partials[u2p.pbase + block] = partial[0];
  }
}

// ---- Vectors: V ← β·V + (1−β)·(G² + ε1) in place, and Σ Û² with Û = G / sqrt(V). g = G window,
// v = V window; eps = ε1.

struct DenseParams {
  n: u32,
  pbase: u32,
  g: u32,
  v: u32,
  beta: f32,
  one_minus_beta: f32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> dsp: DenseParams;

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
    if (i < dsp.n) {
      let g = dense_g[dsp.g + i];
      let v = dsp.beta * dense_v[dsp.v + i] + dsp.one_minus_beta * (g * g + dsp.eps);
      dense_v[dsp.v + i] = v;
      let u = g * inverseSqrt(v);
      acc += u * u;
    }
  }
  partial[t] = acc;
  tree_sum(t);
  if (t == 0u && first < dsp.n) {
    dense_partials[dsp.pbase + block] = partial[0];
  }
}
