// SparseGPT's column sweep (Frantar & Alistarh 2023; docs/algorithms/sparsegpt.md §2) over one block of `width` columns
// starting at column c0. Rows are independent in the sweep — a column's pruning error is spread only
// along its own row, through row c0 + i of U, the upper Cholesky factor of H⁻¹ — so one invocation
// owns one row and walks the block's columns in order. The columns after the block are updated by
// one matmul in the wrapper: W[:, c0+width:] −= Err · U[c0:c0+width, c0+width:].
//
// Bindings are windows (src/kernels/window.ts): the weights of a window of rows, from column c0 of
// its first row (w_base is the element offset of that entry in the binding, rows are ld apart); the
// block's rows × width scores, mask and errors, packed (e_base); and U's diagonal block
// U[c0:c0+width, c0:c0+width] inside the factor (hessianFactor.ts), rows ld apart from u_base, so
// U_(c0+i, c0+j) is u[u_base + i·ld + j].

struct Params {
  // Rows in this window.
  rows: u32,
  // Leading dimension of W, the layer's input width (also the length of U's rows).
  ld: u32,
  // Columns in this block.
  width: u32,
  // Element offset of U_(c0, c0) in its binding.
  u_base: u32,
  w_base: u32,
  e_base: u32,
  // 0: unstructured, the mask comes precomputed in keep; 1: N:M, chosen during the sweep.
  nm: u32,
  n: u32,
  m: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn row_of(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
}

// Dead inputs (a zero Hessian diagonal, flagged 1 by the factor): their weight columns are zeroed
// before anything else.
@group(0) @binding(1) var<storage, read_write> zc_w: array<f32>;
@group(0) @binding(2) var<storage, read> zc_dead: array<u32>;

@compute @workgroup_size(64)
fn zero_columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = row_of(gid, groups);
  if (r >= p.rows) {
    return;
  }
  let base = p.w_base + r * p.ld;
  for (var c = 0u; c < p.ld; c++) {
    if (zc_dead[c] != 0u) {
      zc_w[base + c] = 0.0;
    }
  }
}

// The adaptive mask's scores for the block: w² / U_jj² (the OBS saliency with U's diagonal).
@group(0) @binding(1) var<storage, read> bs_w: array<f32>;
@group(0) @binding(2) var<storage, read> bs_u: array<f32>;
@group(0) @binding(3) var<storage, read_write> bs_out: array<f32>;

@compute @workgroup_size(64)
fn block_scores(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = row_of(gid, groups);
  if (r >= p.rows) {
    return;
  }
  let base = p.w_base + r * p.ld;
  for (var j = 0u; j < p.width; j++) {
    let w = bs_w[base + j];
    let d = bs_u[p.u_base + j * p.ld + j];
    bs_out[p.e_base + r * p.width + j] = (w * w) / (d * d);
  }
}

@group(0) @binding(1) var<storage, read_write> sw_w: array<f32>;
@group(0) @binding(2) var<storage, read> sw_u: array<f32>;
@group(0) @binding(3) var<storage, read> sw_keep: array<u32>;
@group(0) @binding(4) var<storage, read_write> sw_err: array<f32>;

// The N:M score of block column a of the row at base, from the current weights.
fn nm_score(base: u32, a: u32) -> f32 {
  let w = sw_w[base + a];
  let d = sw_u[p.u_base + a * p.ld + a];
  return (w * w) / (d * d);
}

@compute @workgroup_size(64)
fn sweep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = row_of(gid, groups);
  if (r >= p.rows) {
    return;
  }
  let base = p.w_base + r * p.ld;
  let e = p.e_base + r * p.width;
  // Bit k of the two words set: column k of the current N:M group is pruned (M ≤ 64, checked by the
  // wrapper).
  var pruned_bits = vec2<u32>(0u, 0u);
  for (var i = 0u; i < p.width; i++) {
    var pruned = false;
    if (p.nm != 0u) {
      let k = i % p.m;
      if (k == 0u) {
        // Choose the group's mask from the current (already updated) weights: prune the m − n
        // lowest scores, the lower column first among equal ones.
        pruned_bits = vec2<u32>(0u, 0u);
        for (var a = 0u; a < p.m; a++) {
          let sa = nm_score(base, i + a);
          var rank = 0u;
          for (var b = 0u; b < p.m; b++) {
            let sb = nm_score(base, i + b);
            if (sb < sa || (sb == sa && b < a)) {
              rank++;
            }
          }
          if (rank < p.m - p.n) {
            pruned_bits[a / 32u] |= 1u << (a % 32u);
          }
        }
      }
      pruned = (pruned_bits[k / 32u] & (1u << (k % 32u))) != 0u;
    } else {
      pruned = sw_keep[e + i] == 0u;
    }
    let urow = p.u_base + i * p.ld;
    let w = sw_w[base + i];
    let q = select(w, 0.0, pruned);
    let err = (w - q) / sw_u[urow + i];
    if (err != 0.0) {
      for (var j = i + 1u; j < p.width; j++) {
        sw_w[base + j] -= err * sw_u[urow + j];
      }
    }
    sw_w[base + i] = q;
    sw_err[e + i] = err;
  }
}
