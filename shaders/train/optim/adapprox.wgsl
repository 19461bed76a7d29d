// Adapprox (Zhao et al. 2024, arXiv:2403.14958; docs/algorithms/adapprox.md §1.2, §1.5–§1.7): the passes
// over the m × n parameter around the low-rank re-compression of the second moment.
//   V ← β2·max(Q·Uᵀ, 0) + (1−β2)·(G² + ε1)    second_moment (Q·Uᵀ already written into V by a GEMM)
//   Û ← G / (sqrt(V) + ε), clipped by 1/max(1, RMS(Û)/d)
//   M ← β1·M + (1−β1)·Û                         moment (when β1 > 0)
//   W ← W − η·(s·D + λ·W), D = M or Û           apply_momentum / apply_plain
// s is the cosine guidance factor of adapprox.md §1.7 (a reconstruction: the paper's formula was not recovered)
// or 1. Also the Gaussian test matrix of the sketch (Box–Muller on a counter-based hash, so a run
// replays from its seed) and Σ (V / max V)², the squared norm of V without f32 underflow (adapprox.md §1.4).
// Scalar slots of the parameter (o-offset `slot`): ΣÛ² (unclipped) at +0, ⟨M, Û⟩ at +1, ΣM² at +2,
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

// The update-clipping factor from ΣÛ²; f4 = 1/(rows·cols), f5 = d.
fn clip_factor(sum_u2: f32) -> f32 {
  return 1.0 / max(1.0, sqrt(sum_u2 * p.f4) / p.f5);
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

// ---- o0 = G, o1 = V (in: the history Q·Uᵀ, or the dense EMA; out: V_t), o2 = the clamp counter
// (slot +5; max V goes to slot +3, o2 − 2);
// f0 = β2 (0 on a first step without history), f1 = 1 − β2, f2 = ε1, f3 = ε. Partials of Û².
// Clamping the history before adding the fresh G² keeps V ≥ (1−β2)·G² (adapprox.md §1.5).

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
    if (i < p.n) {
      let g = sm_g[p.o0 + i];
      let h = sm_v[p.o1 + i];
      if (p.f0 > 0.0 && h < 0.0) {
        clamped += 1u;
      }
      let v = p.f0 * max(h, 0.0) + p.f1 * (g * g + p.f2);
      sm_v[p.o1 + i] = v;
      vmax = max(vmax, v);
      let u = g / (sqrt(v) + p.f3);
      acc += u * u;
    }
  }
  if (clamped > 0u) {
    atomicAdd(&sm_counts[p.o2], clamped);
  }
  atomicMax(&vmax_bits, bitcast<u32>(vmax));
  partial[t] = acc;
  tree_sum(t);
  if (t == 0u) {
    atomicMax(&sm_counts[p.o2 - 2u], atomicLoad(&vmax_bits));
  }
  let block = wg.x + wg.y * groups.x;
  if (t == 0u && block * 8192u < p.n) {
    sm_partials[p.pbase + block] = partial[0];
  }
}

// ---- The same with the history formed in place, H_ij = Σ_c Q_ac·U_bc (a, b = i, j with Q on the
// rows, else j, i): the GEMM's epilogue fused with it (docs/training.md, "Memory (exact)"), so V is written once and no
// separate product runs. o0 = G, o1 = V (out), o2 = the clamp counter, o3 = Q, o4 = U (both whole,
// row stride o6), o5 = k, o7 = 1 when Q holds the rows; f0…f3 as in second_moment.

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
    if (i < p.n) {
      let e = p.start + i;
      let row = e / p.cols;
      let col = e % p.cols;
      let a = select(col, row, p.o7 == 1u);
      let b = select(row, col, p.o7 == 1u);
      var h = 0.0;
      for (var c = 0u; c < p.o5; c++) {
        h += hm_q[p.o3 + a * p.o6 + c] * hm_u[p.o4 + b * p.o6 + c];
      }
      if (h < 0.0) {
        clamped += 1u;
      }
      let g = hm_g[p.o0 + i];
      let v = p.f0 * max(h, 0.0) + p.f1 * (g * g + p.f2);
      hm_v[p.o1 + i] = v;
      vmax = max(vmax, v);
      let u = g / (sqrt(v) + p.f3);
      acc += u * u;
    }
  }
  if (clamped > 0u) {
    atomicAdd(&hm_counts[p.o2], clamped);
  }
  atomicMax(&vmax_bits, bitcast<u32>(vmax));
  partial[t] = acc;
  tree_sum(t);
  if (t == 0u) {
    atomicMax(&hm_counts[p.o2 - 2u], atomicLoad(&vmax_bits));
  }
  let block = wg.x + wg.y * groups.x;
  if (t == 0u && block * 8192u < p.n) {
    hm_partials[p.pbase + block] = partial[0];
  }
}

// ---- o0 = G, o1 = V, o2 = slot, o3 = M; f3 = ε, f4 = 1/N, f5 = d, f6 = β1, f7 = 1 − β1.

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
  let clip = clip_factor(mo_s[p.o2]);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let u = clip * mo_g[p.o0 + i] / (sqrt(mo_v[p.o1 + i]) + p.f3);
      mo_m[p.o3 + i] = p.f6 * mo_m[p.o3 + i] + p.f7 * u;
    }
  }
}

// ---- Partials of ⟨M, Û⟩ (Û unclipped; the clip factor is applied to the sum). o0 = G, o1 = V,
// o2 = M; f3 = ε.

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
    if (i < p.n) {
      acc += gd_m[p.o2 + i] * gd_g[p.o0 + i] / (sqrt(gd_v[p.o1 + i]) + p.f3);
    }
  }
  partial[t] = acc;
  tree_sum(t);
  let block = wg.x + wg.y * groups.x;
  if (t == 0u && block * 8192u < p.n) {
    gd_partials[p.pbase + block] = partial[0];
  }
}

// The guidance factor s of adapprox.md §1.7 [reconstruction]: c = ⟨M, Û⟩ / (‖M‖‖Û‖ + 1e-12) with Û
// clipped; f2 = 1 for s = (1 + c)/2, 2 for s = max(c, 0), 0 for no guidance (s = 1).
fn guidance(s0: f32, s1: f32, s2: f32) -> f32 {
  if (p.f2 == 0.0) {
    return 1.0;
  }
  let clip = clip_factor(s0);
  let c = clip * s1 / (sqrt(s2) * clip * sqrt(s0) + 1e-12);
  if (p.f2 == 1.0) {
    return 0.5 * (1.0 + c);
  }
  return max(c, 0.0);
}

// ---- W ← W − η·(s·M + λ·W). o0 = M, o1 = slot, o2 = W; f0 = η, f1 = λ, f2 = guidance mode.

@group(0) @binding(1) var<storage, read> am_m: array<f32>;
@group(0) @binding(2) var<storage, read> am_s: array<f32>;
@group(0) @binding(3) var<storage, read_write> am_w: array<f32>;

@compute @workgroup_size(256)
fn apply_momentum(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let s = guidance(am_s[p.o1], am_s[p.o1 + 1u], am_s[p.o1 + 2u]);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let w = am_w[p.o2 + i];
      am_w[p.o2 + i] = w - p.f0 * (s * am_m[p.o0 + i] + p.f1 * w);
    }
  }
}

// ---- W ← W − η·(Û + λ·W) without a first moment. o0 = G, o1 = V, o2 = slot, o3 = W; f0 = η,
// f1 = λ, f3 = ε.

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
  let clip = clip_factor(ap_s[p.o2]);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let u = clip * ap_g[p.o0 + i] / (sqrt(ap_v[p.o1 + i]) + p.f3);
      let w = ap_w[p.o3 + i];
      ap_w[p.o3 + i] = w - p.f0 * (u + p.f1 * w);
    }
  }
}

// ---- Partials of (V / max V)²: ‖V‖² = (max V)²·Σ (V / max V)² stays representable when the
// entries of V are so small that their squares underflow f32 (adapprox.md §1.4). o0 = V, o1 = slot.

@group(0) @binding(1) var<storage, read> sq_v: array<f32>;
@group(0) @binding(2) var<storage, read> sq_s: array<f32>;
@group(0) @binding(3) var<storage, read_write> sq_partials: array<f32>;

@compute @workgroup_size(256)
fn scaled_square(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let top = sq_s[p.o1 + 3u];
  let inv = select(0.0, 1.0 / top, top > 0.0);
  var acc = 0.0;
  for (var r = 0u; r < 32u; r++) {
    let i = summed_element(wg, groups, r, t);
    if (i < p.n) {
      let x = sq_v[p.o0 + i] * inv;
      acc += x * x;
    }
  }
  partial[t] = acc;
  tree_sum(t);
  let block = wg.x + wg.y * groups.x;
  if (t == 0u && block * 8192u < p.n) {
    sq_partials[p.pbase + block] = partial[0];
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

// Every entry of a window of Ω: o0 = Ω, o1 = key; `start` is the window's first element.
@group(0) @binding(1) var<storage, read_write> sg_omega: array<f32>;

@compute @workgroup_size(256)
fn sketch_gaussian(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      sg_omega[p.o0 + i] = gaussian(p.o1, p.start + i);
    }
  }
}

// The warm start of adapprox.md §1.3: Ω = [U_prev / max V | randn]. A window of whole rows of Ω (w = cols
// wide) from global row `start`, n = its elements; o0 = Ω, o1 = U_prev (row stride o4), o2 = key,
// o3 = the columns taken from U_prev, o5 = slot (max V at +3).
@group(0) @binding(1) var<storage, read_write> sw_omega: array<f32>;
@group(0) @binding(2) var<storage, read> sw_u: array<f32>;
@group(0) @binding(3) var<storage, read> sw_s: array<f32>;

@compute @workgroup_size(256)
fn sketch_warm(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let top = sw_s[p.o5 + 3u];
  let inv = select(1.0, 1.0 / top, top > 0.0);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      let row = i / p.cols;
      let col = i % p.cols;
      if (col < p.o3) {
        sw_omega[p.o0 + i] = sw_u[p.o1 + row * p.o4 + col] * inv;
      } else {
        sw_omega[p.o0 + i] = gaussian(p.o2, p.start * p.cols + i);
      }
    }
  }
}

// ---- The sketch's skinny products C = α·op(V)·B with B inner × w and C out × w (row-major, row
// length w): Y = V·Ω and U = Vᵀ·Q for V oriented short × long. One invocation per 4 × 4 tile of
// C, summing along the inner dimension serially in registers: no workgroup barriers (they dominate
// tiled GEMMs with w ≪ 64 on CPU drivers; this is 4–5× faster than the 64-tile GEMM here on
// SwiftShader) and 16 multiply-adds per 8 loads. Reads past the last row or column are clamped
// and their results dropped. `cols` is V's row length; n = ⌈out/4⌉·⌈w/4⌉; o0 = V, o1 = B, o2 = C
// (B and C both in the matrix's sketch buffer, srsi.wgsl), o3 = inner, o4 = w, o5 = 1 for op(V) = Vᵀ (row r of C is column r of V),
// o6 = out, o7 = the parameter's scalar slot; C is scaled by 1 / max V (slot +3): the sketch of
// V / max V, whose Gram cannot underflow f32 however small V is (the QR and the Gram of U run in
// f32 on the GPU; srsi.wgsl).

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
  let cb = (p.o4 + 3u) / 4u;
  if (id >= p.n) {
    return;
  }
  let r0 = (id / cb) * 4u;
  let c0 = (id % cb) * 4u;
  let top = p.o6 - 1u;
  let rr = vec4<u32>(r0, min(r0 + 1u, top), min(r0 + 2u, top), min(r0 + 3u, top));
  let cc = min(vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u), vec4<u32>(p.o4 - 1u));
  var a0 = vec4<f32>();
  var a1 = vec4<f32>();
  var a2 = vec4<f32>();
  var a3 = vec4<f32>();
  for (var j = 0u; j < p.o3; j++) {
    let bi = p.o1 + j * p.o4;
    let b = vec4<f32>(sk_bc[bi + cc.x], sk_bc[bi + cc.y], sk_bc[bi + cc.z], sk_bc[bi + cc.w]);
    var x: vec4<f32>;
    if (p.o5 == 1u) {
      let vi = p.o0 + j * p.cols;
      x = vec4<f32>(sk_v[vi + rr.x], sk_v[vi + rr.y], sk_v[vi + rr.z], sk_v[vi + rr.w]);
    } else {
      let vi = p.o0 + j;
      x = vec4<f32>(sk_v[vi + rr.x * p.cols], sk_v[vi + rr.y * p.cols], sk_v[vi + rr.z * p.cols], sk_v[vi + rr.w * p.cols]);
    }
    a0 += x.x * b;
    a1 += x.y * b;
    a2 += x.z * b;
    a3 += x.w * b;
  }
  let vmax = sk_s[p.o7 + 3u];
  let alpha = select(1.0, 1.0 / vmax, vmax > 0.0);
  let tile = array<vec4<f32>, 4>(a0, a1, a2, a3);
  for (var ri = 0u; ri < 4u; ri++) {
    if (r0 + ri < p.o6) {
      for (var c = 0u; c < 4u; c++) {
        if (c0 + c < p.o4) {
          sk_bc[p.o2 + (r0 + ri) * p.o4 + c0 + c] = alpha * tile[ri][c];
        }
      }
    }
  }
}

// ---- C ← C / max V after the tiled GEMM, which takes its α from the CPU: the windowed form of the
// skinny kernel's scaling (V too large for one binding). o0 = C, o1 = slot (max V at +3).

@group(0) @binding(1) var<storage, read_write> st_c: array<f32>;
@group(0) @binding(2) var<storage, read> st_s: array<f32>;

@compute @workgroup_size(256)
fn scale_inverse_top(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let top = st_s[p.o1 + 3u];
  let inv = select(1.0, 1.0 / top, top > 0.0);
  for (var r = 0u; r < 8u; r++) {
    let i = element(wg, groups, r, t);
    if (i < p.n) {
      st_c[p.o0 + i] = inv * st_c[p.o0 + i];
    }
  }
}
