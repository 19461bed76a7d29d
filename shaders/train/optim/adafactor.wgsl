// Adafactor's update (Shazeer & Stern 2018, as HF transformers implements it; docs/algorithms/adafactor.md), after shaders/train/optim/factored.wgsl has updated the second-moment statistics and summed Û²:
//   Û ← G / sqrt(X̂) · 1/max(1, RMS(Û)/d);  u ← α·Û
//   with β1: M ← β1·M + (1−β1)·u; u ← M        (HF: the momentum holds the lr-scaled update)
//   W ← W − α·λ·W − u
// α = ρ, or max(ε2, RMS(W))·ρ with parameter scaling; ρ is the caller's learning rate or the
// relative step, chosen on the CPU.
// Scalar slots of the parameter (the operand `slot`): ΣR at +0, ΣÛ² at +1, ΣW² at +2.
// Each entry point has its own uniform block, whose fields name what they hold: n, the window's
// elements; an operand's name, its window offset; rho = ρ, scaling = 1 with parameter scaling
// (else 0), eps2 = ε2, inv_rows = 1/rows, inv_count = 1/(rows·cols), d = the clip threshold,
// beta1 = β1, weight_decay = λ. The helpers take what they need as arguments, since entry points
// with different blocks share them.

fn clip_factor(sum_u2: f32, inv_count: f32, d: f32) -> f32 {
  return 1.0 / max(1.0, sqrt(sum_u2 * inv_count) / d);
}

fn step_size(sum_w2: f32, rho: f32, scaling: f32, eps2: f32, inv_count: f32) -> f32 {
  if (scaling > 0.0) {
    return max(eps2, sqrt(sum_w2 * inv_count)) * rho;
  }
  return rho;
}

fn element(wg: vec3<u32>, groups: vec3<u32>, r: u32, t: u32) -> u32 {
  return (wg.x + wg.y * groups.x) * 2048u + r * 256u + t;
}

// ---- Matrices: G, R, C, slot, W (plain) or M then W (momentum).

struct ApplyFactoredParams {
  n: u32,
  start: u32,
  cols: u32,
  g: u32,
  r: u32,
  c: u32,
  slot: u32,
  w: u32,
  rho: f32,
  scaling: f32,
  eps2: f32,
  inv_rows: f32,
  inv_count: f32,
  d: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> afp: ApplyFactoredParams;

@group(0) @binding(1) var<storage, read> fg: array<f32>;
@group(0) @binding(2) var<storage, read> fr: array<f32>;
@group(0) @binding(3) var<storage, read> fc: array<f32>;
@group(0) @binding(4) var<storage, read> fs: array<f32>;
@group(0) @binding(5) var<storage, read_write> fw: array<f32>;

@compute @workgroup_size(256)
fn apply_factored(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let mean_r = fs[afp.slot] * afp.inv_rows;
  let clip = clip_factor(fs[afp.slot + 1u], afp.inv_count, afp.d);
  let alpha = step_size(fs[afp.slot + 2u], afp.rho, afp.scaling, afp.eps2, afp.inv_count);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < afp.n) {
      let e = afp.start + i;
      let u = alpha * clip * factored_u(fg[afp.g + i], fr[afp.r + e / afp.cols], fc[afp.c + e % afp.cols], mean_r);
      let w = fw[afp.w + i];
      fw[afp.w + i] = w - alpha * afp.weight_decay * w - u;
    }
  }
}

struct ApplyFactoredMomentumParams {
  n: u32,
  start: u32,
  cols: u32,
  g: u32,
  r: u32,
  c: u32,
  slot: u32,
  m: u32,
  w: u32,
  rho: f32,
  scaling: f32,
  eps2: f32,
  inv_rows: f32,
  inv_count: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> amp: ApplyFactoredMomentumParams;

@group(0) @binding(1) var<storage, read> mg: array<f32>;
@group(0) @binding(2) var<storage, read> mr: array<f32>;
@group(0) @binding(3) var<storage, read> mc: array<f32>;
@group(0) @binding(4) var<storage, read> ms: array<f32>;
@group(0) @binding(5) var<storage, read_write> mm: array<f32>;
@group(0) @binding(6) var<storage, read_write> mw: array<f32>;

@compute @workgroup_size(256)
fn apply_factored_momentum(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let mean_r = ms[amp.slot] * amp.inv_rows;
  let clip = clip_factor(ms[amp.slot + 1u], amp.inv_count, amp.d);
  let alpha = step_size(ms[amp.slot + 2u], amp.rho, amp.scaling, amp.eps2, amp.inv_count);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < amp.n) {
      let e = amp.start + i;
      let u = alpha * clip * factored_u(mg[amp.g + i], mr[amp.r + e / amp.cols], mc[amp.c + e % amp.cols], mean_r);
      let m = amp.beta1 * mm[amp.m + i] + amp.one_minus_beta1 * u;
      mm[amp.m + i] = m;
      let w = mw[amp.w + i];
      mw[amp.w + i] = w - alpha * amp.weight_decay * w - m;
    }
  }
}

// ---- Vectors: G, V (already updated), slot, W (plain) or M then W (momentum).

struct ApplyDenseParams {
  n: u32,
  g: u32,
  v: u32,
  slot: u32,
  w: u32,
  rho: f32,
  scaling: f32,
  eps2: f32,
  inv_rows: f32,
  inv_count: f32,
  d: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> adp: ApplyDenseParams;

@group(0) @binding(1) var<storage, read> dg: array<f32>;
@group(0) @binding(2) var<storage, read> dv: array<f32>;
@group(0) @binding(3) var<storage, read> ds: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(256)
fn apply_dense(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let clip = clip_factor(ds[adp.slot + 1u], adp.inv_count, adp.d);
  let alpha = step_size(ds[adp.slot + 2u], adp.rho, adp.scaling, adp.eps2, adp.inv_count);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < adp.n) {
      let u = alpha * clip * dg[adp.g + i] * inverseSqrt(dv[adp.v + i]);
      let w = dw[adp.w + i];
      dw[adp.w + i] = w - alpha * adp.weight_decay * w - u;
    }
  }
}

struct ApplyDenseMomentumParams {
  n: u32,
  g: u32,
  v: u32,
  slot: u32,
  m: u32,
  w: u32,
  rho: f32,
  scaling: f32,
  eps2: f32,
  inv_rows: f32,
  inv_count: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> aep: ApplyDenseMomentumParams;

@group(0) @binding(1) var<storage, read> eg: array<f32>;
@group(0) @binding(2) var<storage, read> ev: array<f32>;
@group(0) @binding(3) var<storage, read> es: array<f32>;
@group(0) @binding(4) var<storage, read_write> em: array<f32>;
@group(0) @binding(5) var<storage, read_write> ew: array<f32>;

@compute @workgroup_size(256)
fn apply_dense_momentum(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let clip = clip_factor(es[aep.slot + 1u], aep.inv_count, aep.d);
  let alpha = step_size(es[aep.slot + 2u], aep.rho, aep.scaling, aep.eps2, aep.inv_count);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < aep.n) {
      let u = alpha * clip * eg[aep.g + i] * inverseSqrt(ev[aep.v + i]);
      let m = aep.beta1 * em[aep.m + i] + aep.one_minus_beta1 * u;
      em[aep.m + i] = m;
      let w = ew[aep.w + i];
      ew[aep.w + i] = w - alpha * aep.weight_decay * w - m;
    }
  }
}

// ---- The whole step of a small parameter in one workgroup (fusedStep.wgsl), instead of the
// statistics passes of factored.wgsl, their reductions and an apply pass (train/optim/fused.ts says
// why). Whole-parameter bindings from element 0. Uniform scalars as above, plus beta2 = β2,t and
// eps1 = ε1. The *_momentum entry points also bind M, last.

// Matrices: G, R, C, W (, M).
struct FusedFactoredParams {
  n: u32,
  cols: u32,
  rho: f32,
  scaling: f32,
  eps2: f32,
  inv_rows: f32,
  inv_count: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
  weight_decay: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps1: f32,
}

@group(0) @binding(0) var<uniform> ffp: FusedFactoredParams;

@group(0) @binding(1) var<storage, read> xg: array<f32>;
@group(0) @binding(2) var<storage, read_write> xr: array<f32>;
@group(0) @binding(3) var<storage, read_write> xc: array<f32>;
@group(0) @binding(4) var<storage, read_write> xw: array<f32>;
@group(0) @binding(5) var<storage, read_write> xm: array<f32>;

// Updates R and C, caches their factors and returns (step size α, clip factor).
fn fused_factors(t: u32, rows: u32) -> vec2<f32> {
  let sums = factored_ema(t, rows, ffp.cols, ffp.beta2, ffp.one_minus_beta2, ffp.eps1, ffp.inv_rows);
  let mean_r = sums.x * ffp.inv_rows;
  for (var i = t; i < rows; i += FUSED_GROUP) {
    factors[i] = inverseSqrt(xr[i] / mean_r);
  }
  // Σ W² of the elements this invocation updates last, for parameter scaling; the sum's barrier
  // also publishes the row factors.
  var w2 = 0.0;
  if (ffp.scaling > 0.0) {
    for (var e = t; e < ffp.n; e += FUSED_GROUP) {
      w2 += xw[e] * xw[e];
    }
  }
  let alpha = step_size(group_sum(t, vec2<f32>(w2, 0.0), &group_b).x, ffp.rho, ffp.scaling, ffp.eps2, ffp.inv_count);
  return vec2<f32>(alpha, clip_factor(mean_r * sums.y, ffp.inv_count, ffp.d));
}

@compute @workgroup_size(FUSED_GROUP)
fn fused_factored(@builtin(local_invocation_index) t: u32) {
  let rows = ffp.n / ffp.cols;
  let s = fused_factors(t, rows);
  var w = walk_start(t, ffp.cols);
  for (var e = t; e < ffp.n; e += FUSED_GROUP) {
    let x = xw[e];
    xw[e] = x - s.x * ffp.weight_decay * x - s.x * s.y * cached_u(xg[e], w, rows);
    walk_next(&w, ffp.cols);
  }
}

@compute @workgroup_size(FUSED_GROUP)
fn fused_factored_momentum(@builtin(local_invocation_index) t: u32) {
  let rows = ffp.n / ffp.cols;
  let s = fused_factors(t, rows);
  var w = walk_start(t, ffp.cols);
  for (var e = t; e < ffp.n; e += FUSED_GROUP) {
    let m = ffp.beta1 * xm[e] + ffp.one_minus_beta1 * (s.x * s.y * cached_u(xg[e], w, rows));
    xm[e] = m;
    let x = xw[e];
    xw[e] = x - s.x * ffp.weight_decay * x - m;
    walk_next(&w, ffp.cols);
  }
}

// Vectors: G, V, W (, M). Each invocation updates and then reads back only its own elements.
struct FusedDenseParams {
  n: u32,
  rho: f32,
  scaling: f32,
  eps2: f32,
  inv_rows: f32,
  inv_count: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
  weight_decay: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps1: f32,
}

@group(0) @binding(0) var<uniform> fdp: FusedDenseParams;

@group(0) @binding(1) var<storage, read> yg: array<f32>;
@group(0) @binding(2) var<storage, read_write> yv: array<f32>;
@group(0) @binding(3) var<storage, read_write> yw: array<f32>;
@group(0) @binding(4) var<storage, read_write> ym: array<f32>;

// Updates V and returns (step size α, clip factor).
fn fused_second_moment(t: u32) -> vec2<f32> {
  // (Σ Û², Σ W²) for this invocation.
  var own = vec2<f32>(0.0);
  for (var e = t; e < fdp.n; e += FUSED_GROUP) {
    let g = yg[e];
    let v = fdp.beta2 * yv[e] + fdp.one_minus_beta2 * (g * g + fdp.eps1);
    yv[e] = v;
    let u = g * inverseSqrt(v);
    own.x += u * u;
    if (fdp.scaling > 0.0) {
      own.y += yw[e] * yw[e];
    }
  }
  let sums = group_sum(t, own, &group_a);
  return vec2<f32>(step_size(sums.y, fdp.rho, fdp.scaling, fdp.eps2, fdp.inv_count), clip_factor(sums.x, fdp.inv_count, fdp.d));
}

@compute @workgroup_size(FUSED_GROUP)
fn fused_dense(@builtin(local_invocation_index) t: u32) {
  let s = fused_second_moment(t);
  for (var e = t; e < fdp.n; e += FUSED_GROUP) {
    let x = yw[e];
    yw[e] = x - s.x * fdp.weight_decay * x - s.x * s.y * yg[e] * inverseSqrt(yv[e]);
  }
}

@compute @workgroup_size(FUSED_GROUP)
fn fused_dense_momentum(@builtin(local_invocation_index) t: u32) {
  let s = fused_second_moment(t);
  for (var e = t; e < fdp.n; e += FUSED_GROUP) {
    let m = fdp.beta1 * ym[e] + fdp.one_minus_beta1 * (s.x * s.y * yg[e] * inverseSqrt(yv[e]));
    ym[e] = m;
    let x = yw[e];
    yw[e] = x - s.x * fdp.weight_decay * x - m;
  }
}
