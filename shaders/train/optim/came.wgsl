// CAME (Luo et al., ACL 2023; yangluo7/CAME; docs/algorithms/came.md): Adafactor's
// clipped update Û feeds a momentum M, and the step is M scaled by the confidence 1/sqrt(S), where S
// is the rank-1 factored EMA of the instability (Û − M)² + ε2 (shaders/train/optim/factored.wgsl forms it):
//   M ← β1·M + (1−β1)·Û;  W ← W − η·λ·W − η·M / sqrt(S)      (vectors: W ← W − η·λ·W − η·M)
// Scalar slots of the parameter: ΣR at +0, ΣÛ² at +1, ΣRr (the instability's row EMA) at +2.
// Each entry point has its own uniform block, whose fields name what they hold: n, the window's
// elements; an operand's name, its window offset; lr = η, inv_rows = 1/rows, inv_count =
// 1/(rows·cols), d = the clip threshold, beta1 = β1, weight_decay = λ. The helpers take what they
// need as arguments, since entry points with different blocks share them.

fn clip_factor(sum_u2: f32, inv_count: f32, d: f32) -> f32 {
  return 1.0 / max(1.0, sqrt(sum_u2 * inv_count) / d);
}

fn element(wg: vec3<u32>, groups: vec3<u32>, r: u32, t: u32) -> u32 {
  return (wg.x + wg.y * groups.x) * 2048u + r * 256u + t;
}

// ---- Momentum of a matrix: G, R, C, slot, M.

struct MomentFactoredParams {
  n: u32,
  start: u32,
  cols: u32,
  g: u32,
  r: u32,
  c: u32,
  slot: u32,
  m: u32,
  inv_rows: f32,
  inv_count: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
}

@group(0) @binding(0) var<uniform> mfp: MomentFactoredParams;

@group(0) @binding(1) var<storage, read> fg: array<f32>;
@group(0) @binding(2) var<storage, read> fr: array<f32>;
@group(0) @binding(3) var<storage, read> fc: array<f32>;
@group(0) @binding(4) var<storage, read> fs: array<f32>;
@group(0) @binding(5) var<storage, read_write> fm: array<f32>;

@compute @workgroup_size(256)
fn moment_factored(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let mean_r = fs[mfp.slot] * mfp.inv_rows;
  let clip = clip_factor(fs[mfp.slot + 1u], mfp.inv_count, mfp.d);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < mfp.n) {
      let e = mfp.start + i;
      let u = factored_u(fg[mfp.g + i], fr[mfp.r + e / mfp.cols], fc[mfp.c + e % mfp.cols], mean_r) * clip;
      fm[mfp.m + i] = mfp.beta1 * fm[mfp.m + i] + mfp.one_minus_beta1 * u;
    }
  }
}

// ---- Momentum of a vector: G, V (already updated), slot, M.

struct MomentDenseParams {
  n: u32,
  g: u32,
  v: u32,
  slot: u32,
  m: u32,
  inv_count: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
}

@group(0) @binding(0) var<uniform> mdp: MomentDenseParams;

@group(0) @binding(1) var<storage, read> dg: array<f32>;
@group(0) @binding(2) var<storage, read> dv: array<f32>;
@group(0) @binding(3) var<storage, read> ds: array<f32>;
@group(0) @binding(4) var<storage, read_write> dm: array<f32>;

@compute @workgroup_size(256)
fn moment_dense(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let clip = clip_factor(ds[mdp.slot + 1u], mdp.inv_count, mdp.d);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < mdp.n) {
      let u = dg[mdp.g + i] * inverseSqrt(dv[mdp.v + i]) * clip;
      dm[mdp.m + i] = mdp.beta1 * dm[mdp.m + i] + mdp.one_minus_beta1 * u;
    }
  }
}

// ---- The confidence-weighted step of a matrix: M, Rr, Rc, slot, W.

struct ApplyFactoredParams {
  n: u32,
  start: u32,
  cols: u32,
  m: u32,
  rr: u32,
  rc: u32,
  slot: u32,
  w: u32,
  lr: f32,
  inv_rows: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> afp: ApplyFactoredParams;

@group(0) @binding(1) var<storage, read> am: array<f32>;
@group(0) @binding(2) var<storage, read> ar: array<f32>;
@group(0) @binding(3) var<storage, read> ac: array<f32>;
@group(0) @binding(4) var<storage, read> a_s: array<f32>;
@group(0) @binding(5) var<storage, read_write> aw: array<f32>;

@compute @workgroup_size(256)
fn apply_factored(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let mean_r = a_s[afp.slot + 2u] * afp.inv_rows;
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < afp.n) {
      let e = afp.start + i;
      let step = factored_u(am[afp.m + i], ar[afp.rr + e / afp.cols], ac[afp.rc + e % afp.cols], mean_r);
      let w = aw[afp.w + i];
      aw[afp.w + i] = w - afp.lr * afp.weight_decay * w - afp.lr * step;
    }
  }
}

// ---- A vector's step is the momentum itself: M, W.

struct ApplyDenseParams {
  n: u32,
  m: u32,
  w: u32,
  lr: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> adp: ApplyDenseParams;

@group(0) @binding(1) var<storage, read> bm: array<f32>;
@group(0) @binding(2) var<storage, read_write> bw: array<f32>;

@compute @workgroup_size(256)
fn apply_dense(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < adp.n) {
      let w = bw[adp.w + i];
      bw[adp.w + i] = w - adp.lr * adp.weight_decay * w - adp.lr * bm[adp.m + i];
    }
  }
}

// ---- The whole step of a small parameter in one workgroup (fusedStep.wgsl), instead of the
// statistics passes of factored.wgsl, their reductions, the momentum pass and the apply pass
// (train/optim/fused.ts says why). Whole-parameter bindings from element 0. Uniform scalars as
// above, plus beta2 = β2, beta3 = β3, eps1 = ε1 and eps2 = ε2.

// Matrices: G, R, C, Rr, Rc, M, W.
struct FusedFactoredParams {
  n: u32,
  cols: u32,
  lr: f32,
  beta2: f32,
  one_minus_beta2: f32,
  inv_rows: f32,
  inv_count: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
  weight_decay: f32,
  beta3: f32,
  one_minus_beta3: f32,
  eps1: f32,
  eps2: f32,
}

@group(0) @binding(0) var<uniform> ffp: FusedFactoredParams;

@group(0) @binding(1) var<storage, read> xg: array<f32>;
@group(0) @binding(2) var<storage, read_write> xr: array<f32>;
@group(0) @binding(3) var<storage, read_write> xc: array<f32>;
@group(0) @binding(4) var<storage, read_write> xrr: array<f32>;
@group(0) @binding(5) var<storage, read_write> xrc: array<f32>;
@group(0) @binding(6) var<storage, read_write> xm: array<f32>;
@group(0) @binding(7) var<storage, read_write> xw: array<f32>;

@compute @workgroup_size(FUSED_GROUP)
fn fused_factored(@builtin(local_invocation_index) t: u32) {
  let rows = ffp.n / ffp.cols;
  let eps2 = ffp.eps2;
  // The second moment's factors and Σ Û², as in Adafactor's fused step.
  let sums = factored_ema(t, rows, ffp.cols, ffp.beta2, ffp.one_minus_beta2, ffp.eps1, ffp.inv_rows);
  let mean_r = sums.x * ffp.inv_rows;
  let clip = clip_factor(mean_r * sums.y, ffp.inv_count, ffp.d);
  for (var i = t; i < rows; i += FUSED_GROUP) {
    factors[i] = inverseSqrt(xr[i] / mean_r);
  }
  workgroupBarrier();
  // Columns (contiguous across the invocations, so the writes are too): the momentum
  // M ← β1·M + (1−β1)·Û, written once, and the column means of the instability (Û − M)² + ε2
  // into Rc.
  for (var j = t; j < ffp.cols; j += FUSED_GROUP) {
    let b = factors[rows + j];
    var acc = 0.0;
    for (var i = 0u; i < rows; i++) {
      let e = i * ffp.cols + j;
      let u = xg[e] * factors[i] * b * clip;
      let m = ffp.beta1 * xm[e] + ffp.one_minus_beta1 * u;
      xm[e] = m;
      acc += (u - m) * (u - m) + eps2;
    }
    xrc[j] = ffp.beta3 * xrc[j] + ffp.one_minus_beta3 * acc * ffp.inv_rows;
  }
  // Rows read the momentum the columns wrote (Û as the columns formed it, to the last rounding),
  // with Σ new Rr for this invocation.
  storageBarrier();
  var own_rr = 0.0;
  for (var i = t; i < rows; i += FUSED_GROUP) {
    let a = factors[i];
    var acc = 0.0;
    for (var j = 0u; j < ffp.cols; j++) {
      let e = i * ffp.cols + j;
      let d = xg[e] * a * factors[rows + j] * clip - xm[e];
      acc += d * d + eps2;
    }
    let r = ffp.beta3 * xrr[i] + ffp.one_minus_beta3 * acc / f32(ffp.cols);
    xrr[i] = r;
    own_rr += r;
  }
  // The sum's barrier ends every use of Û's factors; the confidence's replace them.
  let mean_rr = group_sum(t, vec2<f32>(own_rr, 0.0), &group_b).x * ffp.inv_rows;
  for (var i = t; i < rows; i += FUSED_GROUP) {
    factors[i] = inverseSqrt(xrr[i] / mean_rr);
  }
  for (var j = t; j < ffp.cols; j += FUSED_GROUP) {
    factors[rows + j] = inverseSqrt(xrc[j]);
  }
  workgroupBarrier();
  // W ← W − η·λ·W − η·M / sqrt(S), S = (Rr / mean Rr) ⊗ Rc.
  var w = walk_start(t, ffp.cols);
  for (var e = t; e < ffp.n; e += FUSED_GROUP) {
    let x = xw[e];
    xw[e] = x - ffp.lr * ffp.weight_decay * x - ffp.lr * cached_u(xm[e], w, rows);
    walk_next(&w, ffp.cols);
  }
}

// Vectors: G, V, M, W. Each invocation updates and then reads back only its own elements.
struct FusedDenseParams {
  n: u32,
  lr: f32,
  beta2: f32,
  one_minus_beta2: f32,
  inv_count: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
  weight_decay: f32,
  eps1: f32,
}

@group(0) @binding(0) var<uniform> fdp: FusedDenseParams;

@group(0) @binding(1) var<storage, read> yg: array<f32>;
@group(0) @binding(2) var<storage, read_write> yv: array<f32>;
@group(0) @binding(3) var<storage, read_write> ym: array<f32>;
@group(0) @binding(4) var<storage, read_write> yw: array<f32>;

@compute @workgroup_size(FUSED_GROUP)
fn fused_dense(@builtin(local_invocation_index) t: u32) {
  var u2 = 0.0;
  for (var e = t; e < fdp.n; e += FUSED_GROUP) {
    let g = yg[e];
    let v = fdp.beta2 * yv[e] + fdp.one_minus_beta2 * (g * g + fdp.eps1);
    yv[e] = v;
    let u = g * inverseSqrt(v);
    u2 += u * u;
  }
  let clip = clip_factor(group_sum(t, vec2<f32>(u2, 0.0), &group_a).x, fdp.inv_count, fdp.d);
  for (var e = t; e < fdp.n; e += FUSED_GROUP) {
    let u = yg[e] * inverseSqrt(yv[e]) * clip;
    let m = fdp.beta1 * ym[e] + fdp.one_minus_beta1 * u;
    ym[e] = m;
    let w = yw[e];
    yw[e] = w - fdp.lr * fdp.weight_decay * w - fdp.lr * m;
  }
}
