// FISTAPruner's elementwise work over an operator's m × n weights. The one expensive part of an
// iteration, the gradient product Y·G, is the matmul kernel; everything here is a single pass over
// the matrix. All vectors are windows of the same length n with their own element offsets (the
// wrapper splits matrices larger than one binding), and one invocation handles one element.
// Each entry point has its own uniform block at @binding(0), which WGSL allows because no entry
// point uses two of them. In a block, n is the window's length and a field named after an operand
// is the element offset of the window inside that operand's binding (src/prune/fista.ts packs
// the same names).

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
// inv_l = 1/L, tau = τ = λ/L, beta_prev = β_{k−1}, beta = β_k, two_lambda = 2λ, write_z ≠ 0: write z.
struct StepParams {
  n: u32,
  y: u32,
  yg: u32,
  b: u32,
  w: u32,
  pg: u32,
  z: u32,
  terms: u32,
  change: u32,
  inv_l: f32,
  tau: f32,
  beta_prev: f32,
  beta: f32,
  two_lambda: f32,
  write_z: f32,
}
@group(0) @binding(0) var<uniform> sp: StepParams;
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
  if (i >= sp.n) {
    return;
  }
  let y = st_y[sp.y + i];
  let yg = st_yg[sp.yg + i];
  let b = st_b[sp.b + i];
  let w = st_w[sp.w + i];
  let pg = (yg + sp.beta_prev * st_pg[sp.pg + i]) / (1.0 + sp.beta_prev);
  st_pg[sp.pg + i] = pg;
  st_terms[sp.terms + i] = w * (pg - 2.0 * b) + sp.two_lambda * abs(w);
  let z = y - sp.inv_l * (yg - b);
  let wn = sign(z) * max(abs(z) - sp.tau, 0.0);
  st_y[sp.y + i] = wn + sp.beta * (wn - w);
  st_w[sp.w + i] = wn;
  st_change[sp.change + i] = wn - w;
  if (sp.write_z != 0.0) {
    st_z[sp.z + i] = z;
  }
}

// out = v⊙(vg − 2b) + 2λ|v|: summed and added to ‖WX‖², the error ‖V X* − W X‖² (λ = 0) or twice
// the objective F(V), given vg = V·G.
struct QuadParams {
  n: u32,
  v: u32,
  vg: u32,
  b: u32,
  out: u32,
  two_lambda: f32,
}
@group(0) @binding(0) var<uniform> qp: QuadParams;
@group(0) @binding(1) var<storage, read> qt_v: array<f32>;
@group(0) @binding(2) var<storage, read> qt_vg: array<f32>;
@group(0) @binding(3) var<storage, read> qt_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> qt_out: array<f32>;

@compute @workgroup_size(256)
fn quad_terms(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < qp.n) {
    let v = qt_v[qp.v + i];
    qt_out[qp.out + i] = v * (qt_vg[qp.vg + i] - 2.0 * qt_b[qp.b + i]) + qp.two_lambda * abs(v);
  }
}

// out = (a − c)⊙(ag − cg): summed, ‖(A − C) X*‖² given ag = A·G and cg = C·G (E_round of Eq. 8).
struct RoundParams {
  n: u32,
  a: u32,
  ag: u32,
  c: u32,
  cg: u32,
  out: u32,
}
@group(0) @binding(0) var<uniform> rp: RoundParams;
@group(0) @binding(1) var<storage, read> rt_a: array<f32>;
@group(0) @binding(2) var<storage, read> rt_ag: array<f32>;
@group(0) @binding(3) var<storage, read> rt_c: array<f32>;
@group(0) @binding(4) var<storage, read> rt_cg: array<f32>;
@group(0) @binding(5) var<storage, read_write> rt_out: array<f32>;

@compute @workgroup_size(256)
fn round_terms(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < rp.n) {
    rt_out[rp.out + i] = (rt_a[rp.a + i] - rt_c[rp.c + i]) * (rt_ag[rp.ag + i] - rt_cg[rp.cg + i]);
  }
}

// The hard threshold 𝓗 applied to the FISTA iterate w (fistapruner.md §1, §4): entries the mask keeps hold their
// FISTA value; an entry kept although shrinkage zeroed it (the row was over-pruned) takes its value
// before shrinkage z, so the exact count is met (fistapruner.md §4). Where both are 0 — an input that never
// fired in the calibration data, whose weight the data cannot see — the dense weight stays, so a
// kept entry is never a zero. zeros marks w's zeros, to report FISTA's sparsity before the threshold.
struct HardenParams {
  n: u32,
  keep: u32,
  w: u32,
  z: u32,
  dense: u32,
  out: u32,
  zeros: u32,
}
@group(0) @binding(0) var<uniform> hp: HardenParams;
@group(0) @binding(1) var<storage, read> hd_keep: array<u32>;
@group(0) @binding(2) var<storage, read> hd_w: array<f32>;
@group(0) @binding(3) var<storage, read> hd_z: array<f32>;
@group(0) @binding(4) var<storage, read> hd_dense: array<f32>;
@group(0) @binding(5) var<storage, read_write> hd_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> hd_zeros: array<f32>;

@compute @workgroup_size(256)
fn harden(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < hp.n) {
    let w = hd_w[hp.w + i];
    var kept = 0.0;
    if (hd_keep[hp.keep + i] != 0u) {
      kept = select(hd_z[hp.z + i], w, w != 0.0);
      kept = select(hd_dense[hp.dense + i], kept, kept != 0.0);
    }
    hd_out[hp.out + i] = kept;
    hd_zeros[hp.zeros + i] = select(0.0, 1.0, w == 0.0);
  }
}

// out = |diag(G)_j · w_ij − (wg − b)_ij| for the coordinate rule that sets λ₀ (fistapruner.md §4): at a
// LASSO optimum an entry is zero exactly when this is ≤ λ (wg − b is the gradient at w). The
// diagonal is bound whole; start is the window's first element index within the matrix, so the
// column is (start + i) mod cols.
struct ScoreParams {
  n: u32,
  w: u32,
  wg: u32,
  b: u32,
  diag: u32,
  out: u32,
  start: u32,
  cols: u32,
}
@group(0) @binding(0) var<uniform> cp: ScoreParams;
@group(0) @binding(1) var<storage, read> cs_w: array<f32>;
@group(0) @binding(2) var<storage, read> cs_wg: array<f32>;
@group(0) @binding(3) var<storage, read> cs_b: array<f32>;
@group(0) @binding(4) var<storage, read> cs_diag: array<f32>;
@group(0) @binding(5) var<storage, read_write> cs_out: array<f32>;

@compute @workgroup_size(256)
fn coordinate_scores(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < cp.n) {
    let j = (cp.start + i) % cp.cols;
    let grad = cs_wg[cp.wg + i] - cs_b[cp.b + i];
    cs_out[cp.out + i] = abs(cs_diag[cp.diag + j] * cs_w[cp.w + i] - grad);
  }
}

// The early stop of a solve with a tolerance, decided on the GPU (src/prune/fista.ts). rec is a
// window of the solve's record: rec[0] = the iteration the solve stopped at (0 while running),
// rec[1] = ‖W_k − W_{k−1}‖², rec[2] = ‖W_k‖². At iteration k, stop when
// ‖W_k − W_{k−1}‖ ≤ tol·‖W_k‖, i.e. rec[1] ≤ tol_sq·rec[2]. One invocation.
struct StopParams {
  rec: u32,
  iteration: f32,
  tol_sq: f32,
}
@group(0) @binding(0) var<uniform> kp: StopParams;
@group(0) @binding(1) var<storage, read_write> sc_rec: array<f32>;

@compute @workgroup_size(1)
fn stop_check() {
  if (sc_rec[kp.rec] == 0.0 && sc_rec[kp.rec + 1u] <= kp.tol_sq * sc_rec[kp.rec + 2u]) {
    sc_rec[kp.rec] = kp.iteration;
  }
}

// Copies two matrices (src_a → dst_a, src_b → dst_b) when the stop slot rec[0] matches: equal to
// `stop` when stop > 0 (keep W_k and Z of the iteration that stopped the solve, as later iterations
// overwrite them), or any stop when stop = 0 (put them back after the last iteration).
struct LatchParams {
  n: u32,
  rec: u32,
  src_a: u32,
  src_b: u32,
  dst_a: u32,
  dst_b: u32,
  stop: f32,
}
@group(0) @binding(0) var<uniform> lp: LatchParams;
@group(0) @binding(1) var<storage, read> lt_rec: array<f32>;
@group(0) @binding(2) var<storage, read> lt_src_a: array<f32>;
@group(0) @binding(3) var<storage, read> lt_src_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> lt_dst_a: array<f32>;
@group(0) @binding(5) var<storage, read_write> lt_dst_b: array<f32>;

@compute @workgroup_size(256)
fn latch(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  let stopped = lt_rec[lp.rec];
  let matches = select(stopped != 0.0, stopped == lp.stop, lp.stop > 0.0);
  if (i < lp.n && matches) {
    lt_dst_a[lp.dst_a + i] = lt_src_a[lp.src_a + i];
    lt_dst_b[lp.dst_b + i] = lt_src_b[lp.src_b + i];
  }
}
