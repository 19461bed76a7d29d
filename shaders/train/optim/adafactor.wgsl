// Adafactor's update (Shazeer & Stern 2018, as HF transformers implements it; docs/algorithms/adafactor.md), after shaders/train/optim/factored.wgsl has updated the second-moment statistics and summed Û²:
//   Û ← G / sqrt(X̂) · 1/max(1, RMS(Û)/d);  u ← α·Û
//   with β1: M ← β1·M + (1−β1)·u; u ← M        (HF: the momentum holds the lr-scaled update)
//   W ← W − α·λ·W − u
// α = ρ, or max(ε2, RMS(W))·ρ with parameter scaling; ρ is the caller's learning rate or the
// relative step, chosen on the CPU.
// Scalar slots of the parameter (o-offset `slot`): ΣR at +0, ΣÛ² at +1, ΣW² at +2.
// Uniform scalars: f0 = ρ, f1 = 1 with parameter scaling (else 0), f2 = ε2, f3 = 1/rows,
// f4 = 1/(rows·cols), f5 = d, f6 = β1, f7 = 1 − β1, f8 = λ.

fn clip_factor(sum_u2: f32) -> f32 {
  return 1.0 / max(1.0, sqrt(sum_u2 * p.f4) / p.f5);
}

fn step_size(sum_w2: f32) -> f32 {
  if (p.f1 > 0.0) {
    return max(p.f2, sqrt(sum_w2 * p.f4)) * p.f0;
  }
  return p.f0;
}

fn element(wg: vec3<u32>, groups: vec3<u32>, r: u32, t: u32) -> u32 {
  return (wg.x + wg.y * groups.x) * 2048u + r * 256u + t;
}

// ---- Matrices: o0 = G, o1 = R, o2 = C, o3 = slot, o4 = W (plain) or M (momentum), o5 = W.

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
  let mean_r = fs[p.o3] * p.f3;
  let clip = clip_factor(fs[p.o3 + 1u]);
  let alpha = step_size(fs[p.o3 + 2u]);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let e = p.start + i;
      let u = alpha * clip * factored_u(fg[p.o0 + i], fr[p.o1 + e / p.cols], fc[p.o2 + e % p.cols], mean_r);
      let w = fw[p.o4 + i];
      fw[p.o4 + i] = w - alpha * p.f8 * w - u;
    }
  }
}

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
  let mean_r = ms[p.o3] * p.f3;
  let clip = clip_factor(ms[p.o3 + 1u]);
  let alpha = step_size(ms[p.o3 + 2u]);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let e = p.start + i;
      let u = alpha * clip * factored_u(mg[p.o0 + i], mr[p.o1 + e / p.cols], mc[p.o2 + e % p.cols], mean_r);
      let m = p.f6 * mm[p.o4 + i] + p.f7 * u;
      mm[p.o4 + i] = m;
      let w = mw[p.o5 + i];
      mw[p.o5 + i] = w - alpha * p.f8 * w - m;
    }
  }
}

// ---- Vectors: o0 = G, o1 = V (already updated), o2 = slot, o3 = W (plain) or M (momentum), o4 = W.

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
  let clip = clip_factor(ds[p.o2 + 1u]);
  let alpha = step_size(ds[p.o2 + 2u]);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let u = alpha * clip * dg[p.o0 + i] * inverseSqrt(dv[p.o1 + i]);
      let w = dw[p.o3 + i];
      dw[p.o3 + i] = w - alpha * p.f8 * w - u;
    }
  }
}

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
  let clip = clip_factor(es[p.o2 + 1u]);
  let alpha = step_size(es[p.o2 + 2u]);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let u = alpha * clip * eg[p.o0 + i] * inverseSqrt(ev[p.o1 + i]);
      let m = p.f6 * em[p.o3 + i] + p.f7 * u;
      em[p.o3 + i] = m;
      let w = ew[p.o4 + i];
      ew[p.o4 + i] = w - alpha * p.f8 * w - m;
    }
  }
}

// ---- The whole step of a small parameter in one workgroup (fusedStep.wgsl), instead of the
// statistics passes of factored.wgsl, their reductions and an apply pass (train/optim/fused.ts says
// why). Whole-parameter bindings from element 0. Uniform scalars as above, plus f9 = β2,t,
// f10 = 1 − β2,t, f11 = ε1. The *_momentum entry points also bind M, last.

// Matrices: G, R, C, W (, M).
@group(0) @binding(1) var<storage, read> xg: array<f32>;
@group(0) @binding(2) var<storage, read_write> xr: array<f32>;
@group(0) @binding(3) var<storage, read_write> xc: array<f32>;
@group(0) @binding(4) var<storage, read_write> xw: array<f32>;
@group(0) @binding(5) var<storage, read_write> xm: array<f32>;

// Updates R and C, caches their factors and returns (step size α, clip factor).
fn fused_factors(t: u32, rows: u32) -> vec2<f32> {
  let sums = factored_ema(t, rows, p.f9, p.f10);
  let mean_r = sums.x * p.f3;
  for (var i = t; i < rows; i += FUSED_GROUP) {
    factors[i] = inverseSqrt(xr[i] / mean_r);
  }
  // Σ W² of the elements this invocation updates last, for parameter scaling; the sum's barrier
  // also publishes the row factors.
  var w2 = 0.0;
  if (p.f1 > 0.0) {
    for (var e = t; e < p.n; e += FUSED_GROUP) {
      w2 += xw[e] * xw[e];
    }
  }
  return vec2<f32>(step_size(group_sum(t, vec2<f32>(w2, 0.0), &group_b).x), clip_factor(mean_r * sums.y));
}

@compute @workgroup_size(FUSED_GROUP)
fn fused_factored(@builtin(local_invocation_index) t: u32) {
  let rows = p.n / p.cols;
  let s = fused_factors(t, rows);
  var w = walk_start(t, p.cols);
  for (var e = t; e < p.n; e += FUSED_GROUP) {
    let x = xw[e];
    xw[e] = x - s.x * p.f8 * x - s.x * s.y * cached_u(xg[e], w, rows);
    walk_next(&w, p.cols);
  }
}

@compute @workgroup_size(FUSED_GROUP)
fn fused_factored_momentum(@builtin(local_invocation_index) t: u32) {
  let rows = p.n / p.cols;
  let s = fused_factors(t, rows);
  var w = walk_start(t, p.cols);
  for (var e = t; e < p.n; e += FUSED_GROUP) {
    let m = p.f6 * xm[e] + p.f7 * (s.x * s.y * cached_u(xg[e], w, rows));
    xm[e] = m;
    let x = xw[e];
    xw[e] = x - s.x * p.f8 * x - m;
    walk_next(&w, p.cols);
  }
}

// Vectors: G, V, W (, M). Each invocation updates and then reads back only its own elements.
@group(0) @binding(1) var<storage, read> yg: array<f32>;
@group(0) @binding(2) var<storage, read_write> yv: array<f32>;
@group(0) @binding(3) var<storage, read_write> yw: array<f32>;
@group(0) @binding(4) var<storage, read_write> ym: array<f32>;

// Updates V and returns (step size α, clip factor).
fn fused_second_moment(t: u32) -> vec2<f32> {
  // (Σ Û², Σ W²) for this invocation.
  var own = vec2<f32>(0.0);
  for (var e = t; e < p.n; e += FUSED_GROUP) {
    let g = yg[e];
    let v = p.f9 * yv[e] + p.f10 * (g * g + p.f11);
    yv[e] = v;
    let u = g * inverseSqrt(v);
    own.x += u * u;
    if (p.f1 > 0.0) {
      own.y += yw[e] * yw[e];
    }
  }
  let sums = group_sum(t, own, &group_a);
  return vec2<f32>(step_size(sums.y), clip_factor(sums.x));
}

@compute @workgroup_size(FUSED_GROUP)
fn fused_dense(@builtin(local_invocation_index) t: u32) {
  let s = fused_second_moment(t);
  for (var e = t; e < p.n; e += FUSED_GROUP) {
    let x = yw[e];
    yw[e] = x - s.x * p.f8 * x - s.x * s.y * yg[e] * inverseSqrt(yv[e]);
  }
}

@compute @workgroup_size(FUSED_GROUP)
fn fused_dense_momentum(@builtin(local_invocation_index) t: u32) {
  let s = fused_second_moment(t);
  for (var e = t; e < p.n; e += FUSED_GROUP) {
    let m = p.f6 * ym[e] + p.f7 * (s.x * s.y * yg[e] * inverseSqrt(yv[e]));
    ym[e] = m;
    let x = yw[e];
    yw[e] = x - s.x * p.f8 * x - m;
  }
}
