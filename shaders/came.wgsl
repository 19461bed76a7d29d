// CAME (Luo et al., ACL 2023; yangluo7/CAME as specs/adapprox.md §3.3 transcribes it): Adafactor's
// clipped update Û feeds a momentum M, and the step is M scaled by the confidence 1/sqrt(S), where S
// is the rank-1 factored EMA of the instability (Û − M)² + ε2 (shaders/factored.wgsl forms it):
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
