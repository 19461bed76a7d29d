// FISTAPruner's elementwise work over an operator's m × n weights. The one expensive part of an
// iteration, the gradient product Y·G, is the matmul kernel; everything here is a single pass over
// the matrix. All vectors are windows of the same length n with their own element offsets (the
// wrapper splits matrices larger than one binding), and one invocation handles one element.

struct Params {
  n: u32,
  o0: u32,
  o1: u32,
  o2: u32,
  o3: u32,
  o4: u32,
  o5: u32,
  o6: u32,
  o7: u32,
  s0: f32,
  s1: f32,
  s2: f32,
  s3: f32,
  s4: f32,
  s5: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn element(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 256u;
}

// One FISTA iteration (docs/algorithms/fistapruner.md §1), fused with the bookkeeping that reports the objective
// without a second product per iteration. Entering iteration k: y = Y_{k−1}, yg = Y_{k−1}·G,
// w = W_{k−1}, pg = P_{k−2} = W_{k−2}·G. Because Y_{k−1} = W_{k−1} + β_{k−1}(W_{k−1} − W_{k−2}),
// P_{k−1} = W_{k−1}·G = (yg + β_{k−1}·P_{k−2}) / (1 + β_{k−1}): a convex combination, so f32
// errors do not grow along the recursion. Leaving: w = W_k, y = Y_k, pg = P_{k−1},
// terms = W_{k−1}⊙(P_{k−1} − 2B) + 2λ|W_{k−1}| (summed: 2F(W_{k−1}) − ‖WX‖²),
// change = W_k − W_{k−1}, and z = Y_{k−1} − ∇f/L (the point before shrinkage) when asked.
// s0 = 1/L, s1 = τ = λ/L, s2 = β_{k−1}, s3 = β_k, s4 = 2λ, s5 ≠ 0: write z.
@group(0) @binding(1) var<storage, read_write> st_y: array<f32>;
@group(0) @binding(2) var<storage, read> st_yg: array<f32>;
@group(0) @binding(3) var<storage, read> st_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> st_w: array<f32>;
@group(0) @binding(5) var<storage, read_write> st_pg: array<f32>;
@group(0) @binding(6) var<storage, read_write> st_z: array<f32>;
@group(0) @binding(7) var<storage, read_write> st_terms: array<f32>;
@group(0) @binding(8) var<storage, read_write> st_change: array<f32>;

@compute @workgroup_size(256)
fn step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i >= p.n) {
    return;
  }
  let y = st_y[p.o0 + i];
  let yg = st_yg[p.o1 + i];
  let b = st_b[p.o2 + i];
  let w = st_w[p.o3 + i];
  let pg = (yg + p.s2 * st_pg[p.o4 + i]) / (1.0 + p.s2);
  st_pg[p.o4 + i] = pg;
  st_terms[p.o6 + i] = w * (pg - 2.0 * b) + p.s4 * abs(w);
  let z = y - p.s0 * (yg - b);
  let wn = sign(z) * max(abs(z) - p.s1, 0.0);
  st_y[p.o0 + i] = wn + p.s3 * (wn - w);
  st_w[p.o3 + i] = wn;
  st_change[p.o7 + i] = wn - w;
  if (p.s5 != 0.0) {
    st_z[p.o5 + i] = z;
  }
}

// out = v⊙(vg − 2b) + 2λ|v|: summed and added to ‖WX‖², the error ‖V X* − W X‖² (λ = 0) or twice
// the objective F(V), given vg = V·G. s0 = 2λ.
@group(0) @binding(1) var<storage, read> qt_v: array<f32>;
@group(0) @binding(2) var<storage, read> qt_vg: array<f32>;
@group(0) @binding(3) var<storage, read> qt_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> qt_out: array<f32>;

@compute @workgroup_size(256)
fn quad_terms(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < p.n) {
    let v = qt_v[p.o0 + i];
    qt_out[p.o3 + i] = v * (qt_vg[p.o1 + i] - 2.0 * qt_b[p.o2 + i]) + p.s0 * abs(v);
  }
}

// out = (a − c)⊙(ag − cg): summed, ‖(A − C) X*‖² given ag = A·G and cg = C·G (E_round of Eq. 8).
@group(0) @binding(1) var<storage, read> rt_a: array<f32>;
@group(0) @binding(2) var<storage, read> rt_ag: array<f32>;
@group(0) @binding(3) var<storage, read> rt_c: array<f32>;
@group(0) @binding(4) var<storage, read> rt_cg: array<f32>;
@group(0) @binding(5) var<storage, read_write> rt_out: array<f32>;

@compute @workgroup_size(256)
fn round_terms(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < p.n) {
    rt_out[p.o4 + i] = (rt_a[p.o0 + i] - rt_c[p.o2 + i]) * (rt_ag[p.o1 + i] - rt_cg[p.o3 + i]);
  }
}

// The hard threshold 𝓗 applied to the FISTA iterate w (fistapruner.md §1, §4): entries the mask keeps hold their
// FISTA value; an entry kept although shrinkage zeroed it (the row was over-pruned) takes its value
// before shrinkage z, so the exact count is met (fistapruner.md §4). Where both are 0 — an input that never
// fired in the calibration data, whose weight the data cannot see — the dense weight stays, so a
// kept entry is never a zero. zeros marks w's zeros, to report FISTA's sparsity before the threshold.
@group(0) @binding(1) var<storage, read> hd_keep: array<u32>;
@group(0) @binding(2) var<storage, read> hd_w: array<f32>;
@group(0) @binding(3) var<storage, read> hd_z: array<f32>;
@group(0) @binding(4) var<storage, read> hd_dense: array<f32>;
@group(0) @binding(5) var<storage, read_write> hd_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> hd_zeros: array<f32>;

@compute @workgroup_size(256)
fn harden(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < p.n) {
    let w = hd_w[p.o1 + i];
    var kept = 0.0;
    if (hd_keep[p.o0 + i] != 0u) {
      kept = select(hd_z[p.o2 + i], w, w != 0.0);
      kept = select(hd_dense[p.o3 + i], kept, kept != 0.0);
    }
    hd_out[p.o4 + i] = kept;
    hd_zeros[p.o5 + i] = select(0.0, 1.0, w == 0.0);
  }
}

// out = |diag(G)_j · w_ij − (wg − b)_ij| for the coordinate rule that sets λ₀ (fistapruner.md §4): at a
// LASSO optimum an entry is zero exactly when this is ≤ λ (wg − b is the gradient at w). The
// diagonal is bound whole; o5 is the window's first element index within the matrix, so the column
// is (o5 + i) mod n_cols. s0 = n_cols, as f32 to keep one Params layout (exact below 2²⁴).
@group(0) @binding(1) var<storage, read> cs_w: array<f32>;
@group(0) @binding(2) var<storage, read> cs_wg: array<f32>;
@group(0) @binding(3) var<storage, read> cs_b: array<f32>;
@group(0) @binding(4) var<storage, read> cs_diag: array<f32>;
@group(0) @binding(5) var<storage, read_write> cs_out: array<f32>;

@compute @workgroup_size(256)
fn coordinate_scores(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < p.n) {
    let j = (p.o5 + i) % u32(p.s0);
    let grad = cs_wg[p.o1 + i] - cs_b[p.o2 + i];
    cs_out[p.o4 + i] = abs(cs_diag[p.o3 + j] * cs_w[p.o0 + i] - grad);
  }
}

// The early stop of a solve with a tolerance, decided on the GPU (src/prune/fista.ts). rec is a
// window of the solve's record: rec[0] = the iteration the solve stopped at (0 while running),
// rec[1] = ‖W_k − W_{k−1}‖², rec[2] = ‖W_k‖². At iteration k = s0, stop when
// ‖W_k − W_{k−1}‖ ≤ tol·‖W_k‖, i.e. rec[1] ≤ s1·rec[2] with s1 = tol². One invocation.
@group(0) @binding(1) var<storage, read_write> sc_rec: array<f32>;

@compute @workgroup_size(1)
fn stop_check() {
  if (sc_rec[p.o0] == 0.0 && sc_rec[p.o0 + 1u] <= p.s1 * sc_rec[p.o0 + 2u]) {
    sc_rec[p.o0] = p.s0;
  }
}

// Copies two matrices (src_a → dst_a, src_b → dst_b) when the stop slot rec[0] matches: equal to
// s0 when s0 > 0 (keep W_k and Z of the iteration that stopped the solve, as later iterations
// overwrite them), or any stop when s0 = 0 (put them back after the last iteration).
@group(0) @binding(1) var<storage, read> lt_rec: array<f32>;
@group(0) @binding(2) var<storage, read> lt_src_a: array<f32>;
@group(0) @binding(3) var<storage, read> lt_src_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> lt_dst_a: array<f32>;
@group(0) @binding(5) var<storage, read_write> lt_dst_b: array<f32>;

@compute @workgroup_size(256)
fn latch(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  let stopped = lt_rec[p.o0];
  let matches = select(stopped != 0.0, stopped == p.s0, p.s0 > 0.0);
  if (i < p.n && matches) {
    lt_dst_a[p.o3 + i] = lt_src_a[p.o1 + i];
    lt_dst_b[p.o4 + i] = lt_src_b[p.o2 + i];
  }
}
