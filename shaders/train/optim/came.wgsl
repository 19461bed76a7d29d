// CAME (Luo et al., ACL 2023; yangluo7/CAME; docs/algorithms/came.md): Adafactor's
// clipped update Û feeds a momentum M, and the step is M scaled by the confidence 1/sqrt(S), where S
// is the rank-1 factored EMA of the instability (Û − M)² + ε2 (shaders/train/optim/factored.wgsl forms it):
//   M ← β1·M + (1−β1)·Û;  W ← W − η·λ·W − η·M / sqrt(S)      (vectors: W ← W − η·λ·W − η·M)
// Scalar slots of the parameter: ΣR at +0, ΣÛ² at +1, ΣRr (the instability's row EMA) at +2.
// Uniform scalars: f0 = η, f3 = 1/rows, f4 = 1/(rows·cols), f5 = d, f6 = β1, f7 = 1 − β1, f8 = λ.

fn clip_factor(sum_u2: f32) -> f32 {
  return 1.0 / max(1.0, sqrt(sum_u2 * p.f4) / p.f5);
}

fn element(wg: vec3<u32>, groups: vec3<u32>, r: u32, t: u32) -> u32 {
  return (wg.x + wg.y * groups.x) * 2048u + r * 256u + t;
}

// ---- Momentum of a matrix: o0 = G, o1 = R, o2 = C, o3 = slot, o4 = M.

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
  let mean_r = fs[p.o3] * p.f3;
  let clip = clip_factor(fs[p.o3 + 1u]);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let e = p.start + i;
      let u = factored_u(fg[p.o0 + i], fr[p.o1 + e / p.cols], fc[p.o2 + e % p.cols], mean_r) * clip;
      fm[p.o4 + i] = p.f6 * fm[p.o4 + i] + p.f7 * u;
    }
  }
}

// ---- Momentum of a vector: o0 = G, o1 = V (already updated), o2 = slot, o3 = M.

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
  let clip = clip_factor(ds[p.o2 + 1u]);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let u = dg[p.o0 + i] * inverseSqrt(dv[p.o1 + i]) * clip;
      dm[p.o3 + i] = p.f6 * dm[p.o3 + i] + p.f7 * u;
    }
  }
}

// ---- The confidence-weighted step of a matrix: o0 = M, o1 = Rr, o2 = Rc, o3 = slot, o4 = W.

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
  let mean_r = a_s[p.o3 + 2u] * p.f3;
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let e = p.start + i;
      let step = factored_u(am[p.o0 + i], ar[p.o1 + e / p.cols], ac[p.o2 + e % p.cols], mean_r);
      let w = aw[p.o4 + i];
      aw[p.o4 + i] = w - p.f0 * p.f8 * w - p.f0 * step;
    }
  }
}

// ---- A vector's step is the momentum itself: o0 = M, o1 = W.

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
    if (i < p.n) {
      let w = bw[p.o1 + i];
      bw[p.o1 + i] = w - p.f0 * p.f8 * w - p.f0 * bm[p.o0 + i];
    }
  }
}

// ---- The whole step of a small parameter in one workgroup (fusedStep.wgsl), instead of the
// statistics passes of factored.wgsl, their reductions, the momentum pass and the apply pass
// (train/optim/fused.ts says why). Whole-parameter bindings from element 0. Uniform scalars as
// above, plus f1 = β2, f2 = 1 − β2, f9 = β3, f10 = 1 − β3, f11 = ε1; o0 = the bits of ε2.

// Matrices: G, R, C, Rr, Rc, M, W.
@group(0) @binding(1) var<storage, read> xg: array<f32>;
@group(0) @binding(2) var<storage, read_write> xr: array<f32>;
@group(0) @binding(3) var<storage, read_write> xc: array<f32>;
@group(0) @binding(4) var<storage, read_write> xrr: array<f32>;
@group(0) @binding(5) var<storage, read_write> xrc: array<f32>;
@group(0) @binding(6) var<storage, read_write> xm: array<f32>;
@group(0) @binding(7) var<storage, read_write> xw: array<f32>;

@compute @workgroup_size(FUSED_GROUP)
fn fused_factored(@builtin(local_invocation_index) t: u32) {
  let rows = p.n / p.cols;
  let eps2 = bitcast<f32>(p.o0);
  // The second moment's factors and Σ Û², as in Adafactor's fused step.
  let sums = factored_ema(t, rows, p.f1, p.f2);
  let mean_r = sums.x * p.f3;
  let clip = clip_factor(mean_r * sums.y);
  for (var i = t; i < rows; i += FUSED_GROUP) {
    factors[i] = inverseSqrt(xr[i] / mean_r);
  }
  workgroupBarrier();
  // Columns (contiguous across the invocations, so the writes are too): the momentum
  // M ← β1·M + (1−β1)·Û, written once, and the column means of the instability (Û − M)² + ε2
  // into Rc.
  for (var j = t; j < p.cols; j += FUSED_GROUP) {
    let b = factors[rows + j];
    var acc = 0.0;
    for (var i = 0u; i < rows; i++) {
      let e = i * p.cols + j;
      let u = xg[e] * factors[i] * b * clip;
      let m = p.f6 * xm[e] + p.f7 * u;
      xm[e] = m;
      acc += (u - m) * (u - m) + eps2;
    }
    xrc[j] = p.f9 * xrc[j] + p.f10 * acc * p.f3;
  }
  // Rows read the momentum the columns wrote (Û as the columns formed it, to the last rounding),
  // with Σ new Rr for this invocation.
  storageBarrier();
  var own_rr = 0.0;
  for (var i = t; i < rows; i += FUSED_GROUP) {
    let a = factors[i];
    var acc = 0.0;
    for (var j = 0u; j < p.cols; j++) {
      let e = i * p.cols + j;
      let d = xg[e] * a * factors[rows + j] * clip - xm[e];
      acc += d * d + eps2;
    }
    let r = p.f9 * xrr[i] + p.f10 * acc / f32(p.cols);
    xrr[i] = r;
    own_rr += r;
  }
  // The sum's barrier ends every use of Û's factors; the confidence's replace them.
  let mean_rr = group_sum(t, vec2<f32>(own_rr, 0.0), &group_b).x * p.f3;
  for (var i = t; i < rows; i += FUSED_GROUP) {
    factors[i] = inverseSqrt(xrr[i] / mean_rr);
  }
  for (var j = t; j < p.cols; j += FUSED_GROUP) {
    factors[rows + j] = inverseSqrt(xrc[j]);
  }
  workgroupBarrier();
  // W ← W − η·λ·W − η·M / sqrt(S), S = (Rr / mean Rr) ⊗ Rc.
  var w = walk_start(t, p.cols);
  for (var e = t; e < p.n; e += FUSED_GROUP) {
    let x = xw[e];
    xw[e] = x - p.f0 * p.f8 * x - p.f0 * cached_u(xm[e], w, rows);
    walk_next(&w, p.cols);
  }
}

// Vectors: G, V, M, W. Each invocation updates and then reads back only its own elements.
@group(0) @binding(1) var<storage, read> yg: array<f32>;
@group(0) @binding(2) var<storage, read_write> yv: array<f32>;
@group(0) @binding(3) var<storage, read_write> ym: array<f32>;
@group(0) @binding(4) var<storage, read_write> yw: array<f32>;

@compute @workgroup_size(FUSED_GROUP)
fn fused_dense(@builtin(local_invocation_index) t: u32) {
  var u2 = 0.0;
  for (var e = t; e < p.n; e += FUSED_GROUP) {
    let g = yg[e];
    let v = p.f1 * yv[e] + p.f2 * (g * g + p.f11);
    yv[e] = v;
    let u = g * inverseSqrt(v);
    u2 += u * u;
  }
  let clip = clip_factor(group_sum(t, vec2<f32>(u2, 0.0), &group_a).x);
  for (var e = t; e < p.n; e += FUSED_GROUP) {
    let u = yg[e] * inverseSqrt(yv[e]) * clip;
    let m = p.f6 * ym[e] + p.f7 * u;
    ym[e] = m;
    let w = yw[e];
    yw[e] = w - p.f0 * p.f8 * w - p.f0 * m;
  }
}
