// SparseGPT's column sweep (Frantar & Alistarh 2023; spec §5.4) over one block of B columns starting
// at column c0. Rows are independent in the sweep — a column's pruning error is spread only along
// its own row, through the upper Cholesky factor U of H⁻¹ — so one invocation owns one row and walks
// the block's columns in order. The updates of the columns after the block are one matmul, done by
// the wrapper: W[:, c0+B:] −= Err · U[c0:c0+B, c0+B:].

struct Params {
  rows: u32,
  cols: u32,
  c0: u32,
  width: u32,
  // 0: unstructured, the mask comes precomputed in keep; otherwise N:M chosen during the sweep.
  nm: u32,
  n: u32,
  m: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn row_of(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 64u;
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
  for (var j = 0u; j < p.width; j++) {
    let c = p.c0 + j;
    let w = bs_w[r * p.cols + c];
    let d = bs_u[c * p.cols + c];
    bs_out[r * p.width + j] = (w * w) / (d * d);
  }
}

@group(0) @binding(1) var<storage, read_write> sw_w: array<f32>;
@group(0) @binding(2) var<storage, read> sw_u: array<f32>;
@group(0) @binding(3) var<storage, read> sw_keep: array<u32>;
@group(0) @binding(4) var<storage, read_write> sw_err: array<f32>;

@compute @workgroup_size(64)
fn sweep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r = row_of(gid, groups);
  if (r >= p.rows) {
    return;
  }
  let base = r * p.cols;
  // Bit k set: column k of the current N:M group is pruned (M ≤ 32, checked by the wrapper).
  var pruned_bits = 0u;
  for (var i = 0u; i < p.width; i++) {
    let c = p.c0 + i;
    var pruned = false;
    if (p.nm != 0u) {
      let k = i % p.m;
      if (k == 0u) {
        // Choose the group's mask from the current (already updated) weights: prune the m − n
        // lowest scores, the lower column first among equal ones.
        pruned_bits = 0u;
        for (var a = 0u; a < p.m; a++) {
          let wa = sw_w[base + c + a];
          let da = sw_u[(c + a) * p.cols + c + a];
          let sa = wa * wa / (da * da);
          var rank = 0u;
          for (var b = 0u; b < p.m; b++) {
            let wb = sw_w[base + c + b];
            let db = sw_u[(c + b) * p.cols + c + b];
            let sb = wb * wb / (db * db);
            if (sb < sa || (sb == sa && b < a)) {
              rank++;
            }
          }
          if (rank < p.m - p.n) {
            pruned_bits |= 1u << a;
          }
        }
      }
      pruned = (pruned_bits & (1u << k)) != 0u;
    } else {
      pruned = sw_keep[r * p.width + i] == 0u;
    }
    let w = sw_w[base + c];
    let q = select(w, 0.0, pruned);
    let err = (w - q) / sw_u[c * p.cols + c];
    for (var j = i + 1u; j < p.width; j++) {
      sw_w[base + p.c0 + j] -= err * sw_u[c * p.cols + p.c0 + j];
    }
    sw_w[base + c] = q;
    sw_err[r * p.width + i] = err;
  }
}
