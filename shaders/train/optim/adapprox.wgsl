// Adapprox (Zhao et al. 2024, arXiv:2403.14958; docs/algorithms/adapprox.md §1.2, §1.5–§1.7): the passes
// over the m × n parameter around the low-rank re-compression of the second moment.
//   V ← β2·max(Q·Uᵀ, 0) + (1−β2)·(G² + ε1)    second_moment (Q·Uᵀ already written into V by a GEMM)
//   Û ← G / (sqrt(V) + ε), clipped by 1/max(1, RMS(Û)/d)
//   M ← β1·M + (1−β1)·Û                         moment (when β1 > 0)
//   W ← W − η·(s·D + λ·W), D = M or Û           apply_momentum / apply_plain
// s is the cosine guidance factor of adapprox.md §1.7 (a reconstruction: the paper's formula was not recovered)
// or 1. Also the Gaussian test matrix of the sketch (Box–Muller on a counter-based hash, so a run
// replays from its seed) and Σ (V / max V)², the squared norm of V without f32 underflow (adapprox.md §1.4).
// Each entry point has its own uniform block (n: the window's elements; an operand's name: its
// window offset); the helpers take what they read as arguments.
// Scalar slots of the parameter (the operand `slot`): ΣÛ² (unclipped) at +0, ⟨M, Û⟩ at +1, ΣM² at +2,
// max V at +3, Σ (V / max V)² at +4, and the count of clamped history entries (u32) at +5.
// max V is folded into the second-moment passes by an atomic max on its bits (V > 0, so the bits of
// the f32 order as u32s do): one pass and one reduction fewer per matrix than a separate max.

fn element(wg: vec3<u32>, groups: vec3<u32>, r: u32, t: u32) -> u32 {
  return (wg.x + wg.y * groups.x) * 2048u + r * 256u + t;
}

// Passes that also sum cover 8192 elements per workgroup (32 per invocation): a quarter of the
// workgroups, hence of the tree reductions, whose barriers dominate on CPU drivers.
fn summed_element(wg: vec3<u32>, groups: vec3<u32>, r: u32, t: u32) -> u32 {
  return (wg.x + wg.y * groups.x) * 8192u + r * 256u + t;
}

// The update-clipping factor from ΣÛ², with inv_count = 1/(rows·cols) and d the clip threshold.
fn clip_factor(sum_u2: f32, inv_count: f32, d: f32) -> f32 {
  return 1.0 / max(1.0, sqrt(sum_u2 * inv_count) / d);
}

var<workgroup> partial: array<f32, 256>;
// max V over the workgroup, as the bits of a non-negative f32 (which order as u32s do).
var<workgroup> vmax_bits: atomic<u32>;

fn tree_sum(t: u32) {
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] = partial[t] + partial[t + stride];
    }
    workgroupBarrier();
  }
}

// ---- g = G, v = V (in: the history Q·Uᵀ, or the dense EMA; out: V_t), counts = the clamp counter
// (slot +5; max V goes to slot +3, counts − 2);
// beta2 = β2 (0 on a first step without history), eps1 = ε1, eps = ε. Partials of Û² from pbase.
// Clamping the history before adding the fresh G² keeps V ≥ (1−β2)·G² (adapprox.md §1.5).

struct SecondMomentParams {
  n: u32,
  pbase: u32,
  g: u32,
  v: u32,
  counts: u32,
  beta2: f32,
  one_minus_beta2: f32,
  eps1: f32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> smp: SecondMomentParams;

@group(0) @binding(1) var<storage, read> sm_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> sm_v: array<f32>;
@group(0) @binding(3) var<storage, read_write> sm_counts: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> sm_partials: array<f32>;

@compute @workgroup_size(256)
fn second_moment(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  var acc = 0.0;
  var clamped = 0u;
  var vmax = 0.0;
  for (var r = 0u; r < 32u; r++) {
    let i = summed_element(wg, groups, r, t);
    if (i < smp.n) {
      let g = sm_g[smp.g + i];
      let h = sm_v[smp.v + i];
      if (smp.beta2 > 0.0 && h < 0.0) {
        clamped += 1u;
      }
      let v = smp.beta2 * max(h, 0.0) + smp.one_minus_beta2 * (g * g + smp.eps1);
      sm_v[smp.v + i] = v;
      vmax = max(vmax, v);
      let u = g / (sqrt(v) + smp.eps);
      acc += u * u;
    }
  }
  if (clamped > 0u) {
    atomicAdd(&sm_counts[smp.counts], clamped);
  }
  atomicMax(&vmax_bits, bitcast<u32>(vmax));
  partial[t] = acc;
  tree_sum(t);
  if (t == 0u) {
    atomicMax(&sm_counts[smp.counts - 2u], atomicLoad(&vmax_bits));
  }
  let block = wg.x + wg.y * groups.x;
  if (t == 0u && block * 8192u < smp.n) {
    sm_partials[smp.pbase + block] = partial[0];
  }
}

// ---- The same with the history formed in place, H_ij = Σ_c Q_ac·U_bc (a, b = i, j with Q on the
// rows, else j, i): the GEMM's epilogue fused with it (docs/training.md, "Memory (exact)"), so V is written once and no
// separate product runs. g = G, v = V (out), counts = the clamp counter, q = Q, u = U (both whole,
// row stride `stride`), k, q_rows = 1 when Q holds the rows; scalars as in second_moment.

struct HistoryMomentParams {
  n: u32,
  start: u32,
  cols: u32,
  pbase: u32,
  g: u32,
  v: u32,
  counts: u32,
  q: u32,
  u: u32,
  k: u32,
  stride: u32,
  q_rows: u32,
  beta2: f32,
  one_minus_beta2: f32,
  eps1: f32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> hmp: HistoryMomentParams;

@group(0) @binding(1) var<storage, read> hm_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> hm_v: array<f32>;
@group(0) @binding(3) var<storage, read_write> hm_counts: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read> hm_q: array<f32>;
@group(0) @binding(5) var<storage, read> hm_u: array<f32>;
@group(0) @binding(6) var<storage, read_write> hm_partials: array<f32>;

@compute @workgroup_size(256)
fn history_moment(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  var acc = 0.0;
  var clamped = 0u;
  var vmax = 0.0;
  for (var r = 0u; r < 32u; r++) {
    let i = summed_element(wg, groups, r, t);
    if (i < hmp.n) {
      let e = hmp.start + i;
      let row = e / hmp.cols;
      let col = e % hmp.cols;
      let a = select(col, row, hmp.q_rows == 1u);
      let b = select(row, col, hmp.q_rows == 1u);
      var h = 0.0;
      for (var c = 0u; c < hmp.k; c++) {
        h += hm_q[hmp.q + a * hmp.stride + c] * hm_u[hmp.u + b * hmp.stride + c];
      }
      if (h < 0.0) {
        clamped += 1u;
      }
      let g = hm_g[hmp.g + i];
      let v = hmp.beta2 * max(h, 0.0) + hmp.one_minus_beta2 * (g * g + hmp.eps1);
      hm_v[hmp.v + i] = v;
      vmax = max(vmax, v);
      let u = g / (sqrt(v) + hmp.eps);
      acc += u * u;
    }
  }
  if (clamped > 0u) {
    atomicAdd(&hm_counts[hmp.counts], clamped);
  }
  atomicMax(&vmax_bits, bitcast<u32>(vmax));
  partial[t] = acc;
  tree_sum(t);
  if (t == 0u) {
    atomicMax(&hm_counts[hmp.counts - 2u], atomicLoad(&vmax_bits));
  }
  let block = wg.x + wg.y * groups.x;
  if (t == 0u && block * 8192u < hmp.n) {
    hm_partials[hmp.pbase + block] = partial[0];
  }
}

// ---- M ← β1·M + (1−β1)·Û. g = G, v = V, slot, m = M; eps = ε, inv_count = 1/N, d, beta1 = β1.

struct MomentParams {
  n: u32,
  g: u32,
  v: u32,
  slot: u32,
  m: u32,
  eps: f32,
  inv_count: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
}

@group(0) @binding(0) var<uniform> mop: MomentParams;

@group(0) @binding(1) var<storage, read> mo_g: array<f32>;
@group(0) @binding(2) var<storage, read> mo_v: array<f32>;
@group(0) @binding(3) var<storage, read> mo_s: array<f32>;
@group(0) @binding(4) var<storage, read_write> mo_m: array<f32>;

@compute @workgroup_size(256)
fn moment(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let clip = clip_factor(mo_s[mop.slot], mop.inv_count, mop.d);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < mop.n) {
      let u = clip * mo_g[mop.g + i] / (sqrt(mo_v[mop.v + i]) + mop.eps);
      mo_m[mop.m + i] = mop.beta1 * mo_m[mop.m + i] + mop.one_minus_beta1 * u;
    }
  }
}

// ---- Partials of ⟨M, Û⟩ (Û unclipped; the clip factor is applied to the sum). g = G, v = V,
// m = M; eps = ε.

struct GuidanceDotParams {
  n: u32,
  pbase: u32,
  g: u32,
  v: u32,
  m: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> gdp: GuidanceDotParams;

@group(0) @binding(1) var<storage, read> gd_g: array<f32>;
@group(0) @binding(2) var<storage, read> gd_v: array<f32>;
@group(0) @binding(3) var<storage, read> gd_m: array<f32>;
@group(0) @binding(4) var<storage, read_write> gd_partials: array<f32>;

@compute @workgroup_size(256)
fn guidance_dot(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  var acc = 0.0;
  for (var r = 0u; r < 32u; r++) {
    let i = summed_element(wg, groups, r, t);
    if (i < gdp.n) {
      acc += gd_m[gdp.m + i] * gd_g[gdp.g + i] / (sqrt(gd_v[gdp.v + i]) + gdp.eps);
    }
  }
  partial[t] = acc;
  tree_sum(t);
  let block = wg.x + wg.y * groups.x;
  if (t == 0u && block * 8192u < gdp.n) {
    gd_partials[gdp.pbase + block] = partial[0];
  }
}

// The guidance factor s of adapprox.md §1.7 [reconstruction]: c = ⟨M, Û⟩ / (‖M‖‖Û‖ + 1e-12) with Û
// clipped; mode = 1 for s = (1 + c)/2, 2 for s = max(c, 0), 0 for no guidance (s = 1).
fn guidance(s0: f32, s1: f32, s2: f32, mode: f32, inv_count: f32, d: f32) -> f32 {
  if (mode == 0.0) {
    return 1.0;
  }
  let clip = clip_factor(s0, inv_count, d);
  let c = clip * s1 / (sqrt(s2) * clip * sqrt(s0) + 1e-12);
  if (mode == 1.0) {
    return 0.5 * (1.0 + c);
  }
  return max(c, 0.0);
}

// ---- W ← W − η·(s·M + λ·W). m = M, slot, w = W; lr = η, weight_decay = λ, guidance = the mode.

struct ApplyMomentumParams {
  n: u32,
  m: u32,
  slot: u32,
  w: u32,
  lr: f32,
  weight_decay: f32,
  guidance: f32,
  inv_count: f32,
  d: f32,
}

@group(0) @binding(0) var<uniform> amp: ApplyMomentumParams;

@group(0) @binding(1) var<storage, read> am_m: array<f32>;
@group(0) @binding(2) var<storage, read> am_s: array<f32>;
@group(0) @binding(3) var<storage, read_write> am_w: array<f32>;

@compute @workgroup_size(256)
fn apply_momentum(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let s = guidance(am_s[amp.slot], am_s[amp.slot + 1u], am_s[amp.slot + 2u], amp.guidance, amp.inv_count, amp.d);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < amp.n) {
      let w = am_w[amp.w + i];
      am_w[amp.w + i] = w - amp.lr * (s * am_m[amp.m + i] + amp.weight_decay * w);
    }
  }
}

// ---- W ← W − η·(Û + λ·W) without a first moment. g = G, v = V, slot, w = W; lr = η,
// weight_decay = λ, eps = ε.

struct ApplyPlainParams {
  n: u32,
  g: u32,
  v: u32,
  slot: u32,
  w: u32,
  lr: f32,
  weight_decay: f32,
  eps: f32,
  inv_count: f32,
  d: f32,
}

@group(0) @binding(0) var<uniform> app: ApplyPlainParams;

@group(0) @binding(1) var<storage, read> ap_g: array<f32>;
@group(0) @binding(2) var<storage, read> ap_v: array<f32>;
@group(0) @binding(3) var<storage, read> ap_s: array<f32>;
@group(0) @binding(4) var<storage, read_write> ap_w: array<f32>;

@compute @workgroup_size(256)
fn apply_plain(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let clip = clip_factor(ap_s[app.slot], app.inv_count, app.d);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < app.n) {
      let u = clip * ap_g[app.g + i] / (sqrt(ap_v[app.v + i]) + app.eps);
      let w = ap_w[app.w + i];
      ap_w[app.w + i] = w - app.lr * (u + app.weight_decay * w);
    }
  }
}

// ---- Partials of (V / max V)²: ‖V‖² = (max V)²·Σ (V / max V)² stays representable when the
// entries of V are so small that their squares underflow f32 (adapprox.md §1.4). v = V, slot.

struct ScaledSquareParams {
  n: u32,
  pbase: u32,
  v: u32,
  slot: u32,
}

@group(0) @binding(0) var<uniform> ssp: ScaledSquareParams;

@group(0) @binding(1) var<storage, read> sq_v: array<f32>;
@group(0) @binding(2) var<storage, read> sq_s: array<f32>;
@group(0) @binding(3) var<storage, read_write> sq_partials: array<f32>;

@compute @workgroup_size(256)
fn scaled_square(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let top = sq_s[ssp.slot + 3u];
  let inv = select(0.0, 1.0 / top, top > 0.0);
  var acc = 0.0;
  for (var r = 0u; r < 32u; r++) {
    let i = summed_element(wg, groups, r, t);
    if (i < ssp.n) {
      let x = sq_v[ssp.v + i] * inv;
      acc += x * x;
    }
  }
  partial[t] = acc;
  tree_sum(t);
  let block = wg.x + wg.y * groups.x;
  if (t == 0u && block * 8192u < ssp.n) {
    sq_partials[ssp.pbase + block] = partial[0];
  }
}

// ---- The Gaussian test matrix Ω (long side × w, row-major).

// lowbias32 (C. Wellons' integer hash), as train/optim/srsi.ts hash32.
fn hash32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

// Element `index` of the standard normal stream of `key` (srsi.ts gaussianAt).
fn gaussian(key: u32, index: u32) -> f32 {
  let a = hash32(key ^ hash32(2u * index));
  let b = hash32(key ^ hash32(2u * index + 1u));
  let u1 = (f32(a >> 8u) + 0.5) / 16777216.0;
  let u2 = f32(b >> 8u) / 16777216.0;
  // cos(2π·u2) = −cos(2π·(u2 − ½)): WGSL bounds cos's error only on [−π, π] (2⁻¹¹ absolute).
  return -sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * (u2 - 0.5));
}

// Every entry of a window of Ω: omega = Ω, key; `start` is the window's first element.
struct SketchGaussianParams {
  n: u32,
  start: u32,
  omega: u32,
  key: u32,
}

@group(0) @binding(0) var<uniform> sgp: SketchGaussianParams;

@group(0) @binding(1) var<storage, read_write> sg_omega: array<f32>;

@compute @workgroup_size(256)
fn sketch_gaussian(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < sgp.n) {
      sg_omega[sgp.omega + i] = gaussian(sgp.key, sgp.start + i);
    }
  }
}

// The warm start of adapprox.md §1.3: Ω = [U_prev / max V | randn]. A window of whole rows of Ω (w = cols
// wide) from global row `start`, n = its elements; omega = Ω, u = U_prev (row stride `stride`), key,
// taken = the columns taken from U_prev, slot (max V at +3).
struct SketchWarmParams {
  n: u32,
  start: u32,
  cols: u32,
  omega: u32,
  u: u32,
  key: u32,
  taken: u32,
  stride: u32,
  slot: u32,
}

@group(0) @binding(0) var<uniform> swp: SketchWarmParams;

@group(0) @binding(1) var<storage, read_write> sw_omega: array<f32>;
@group(0) @binding(2) var<storage, read> sw_u: array<f32>;
@group(0) @binding(3) var<storage, read> sw_s: array<f32>;

@compute @workgroup_size(256)
fn sketch_warm(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let top = sw_s[swp.slot + 3u];
  let inv = select(1.0, 1.0 / top, top > 0.0);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < swp.n) {
      let row = i / swp.cols;
      let col = i % swp.cols;
      if (col < swp.taken) {
        sw_omega[swp.omega + i] = sw_u[swp.u + row * swp.stride + col] * inv;
      } else {
        sw_omega[swp.omega + i] = gaussian(swp.key, swp.start * swp.cols + i);
      }
    }
  }
}

// ---- The sketch's skinny products C = α·op(V)·B with B inner × w and C out × w (row-major, row
// length w): Y = V·Ω and U = Vᵀ·Q for V oriented short × long. One invocation per 4 × 4 tile of
// C, summing along the inner dimension serially in registers: no workgroup barriers (they dominate
// tiled GEMMs with w ≪ 64 on CPU drivers; this is 4–5× faster than the 64-tile GEMM here on
// SwiftShader) and 16 multiply-adds per 8 loads. Reads past the last row or column are clamped
// and their results dropped. `cols` is V's row length; n = ⌈out/4⌉·⌈w/4⌉; v = V, b = B, c = C
// (B and C both in the matrix's sketch buffer, srsi.wgsl), inner, w, transpose = 1 for op(V) = Vᵀ
// (row r of C is column r of V), out, slot = the parameter's scalar slot; C is scaled by 1 / max V (slot +3): the sketch of
// V / max V, whose Gram cannot underflow f32 however small V is (the QR and the Gram of U run in
// f32 on the GPU; srsi.wgsl).

struct SkinnyParams {
  n: u32,
  cols: u32,
  v: u32,
  b: u32,
  c: u32,
  inner: u32,
  w: u32,
  transpose: u32,
  out: u32,
  slot: u32,
}

@group(0) @binding(0) var<uniform> skp: SkinnyParams;

@group(0) @binding(1) var<storage, read> sk_v: array<f32>;
@group(0) @binding(2) var<storage, read_write> sk_bc: array<f32>;
@group(0) @binding(3) var<storage, read> sk_s: array<f32>;

@compute @workgroup_size(64)
fn skinny(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let id = (wg.x + wg.y * groups.x) * 64u + t;
  let cb = (skp.w + 3u) / 4u;
  if (id >= skp.n) {
    return;
  }
  let r0 = (id / cb) * 4u;
  let c0 = (id % cb) * 4u;
  let top = skp.out - 1u;
  let rr = vec4<u32>(r0, min(r0 + 1u, top), min(r0 + 2u, top), min(r0 + 3u, top));
  let cc = min(vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u), vec4<u32>(skp.w - 1u));
  var a0 = vec4<f32>();
  var a1 = vec4<f32>();
  var a2 = vec4<f32>();
  var a3 = vec4<f32>();
  for (var j = 0u; j < skp.inner; j++) {
    let bi = skp.b + j * skp.w;
    let b = vec4<f32>(sk_bc[bi + cc.x], sk_bc[bi + cc.y], sk_bc[bi + cc.z], sk_bc[bi + cc.w]);
    var x: vec4<f32>;
    if (skp.transpose == 1u) {
      let vi = skp.v + j * skp.cols;
      x = vec4<f32>(sk_v[vi + rr.x], sk_v[vi + rr.y], sk_v[vi + rr.z], sk_v[vi + rr.w]);
    } else {
      let vi = skp.v + j;
      x = vec4<f32>(sk_v[vi + rr.x * skp.cols], sk_v[vi + rr.y * skp.cols], sk_v[vi + rr.z * skp.cols], sk_v[vi + rr.w * skp.cols]);
    }
    a0 += x.x * b;
    a1 += x.y * b;
    a2 += x.z * b;
    a3 += x.w * b;
  }
  let vmax = sk_s[skp.slot + 3u];
  let alpha = select(1.0, 1.0 / vmax, vmax > 0.0);
  let tile = array<vec4<f32>, 4>(a0, a1, a2, a3);
  for (var ri = 0u; ri < 4u; ri++) {
    if (r0 + ri < skp.out) {
      for (var c = 0u; c < 4u; c++) {
        if (c0 + c < skp.w) {
          sk_bc[skp.c + (r0 + ri) * skp.w + c0 + c] = alpha * tile[ri][c];
        }
      }
    }
  }
}

// ---- C ← C / max V after the tiled GEMM, which takes its α from the CPU: the windowed form of the
// skinny kernel's scaling (V too large for one binding). c = C, slot (max V at +3).

struct ScaleInverseTopParams {
  n: u32,
  c: u32,
  slot: u32,
}

@group(0) @binding(0) var<uniform> sip: ScaleInverseTopParams;

@group(0) @binding(1) var<storage, read_write> st_c: array<f32>;
@group(0) @binding(2) var<storage, read> st_s: array<f32>;

@compute @workgroup_size(256)
fn scale_inverse_top(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let top = st_s[sip.slot + 3u];
  let inv = select(1.0, 1.0 / top, top > 0.0);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < sip.n) {
      st_c[sip.c + i] = inv * st_c[sip.c + i];
    }
  }
}
