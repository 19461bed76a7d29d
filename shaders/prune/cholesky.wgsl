// SparseGPT's inverse-Hessian factor on the GPU, in f32 like the reference code: from the Hessian H
// (n × n, copied into a scratch matrix S by the wrapper, src/prune/hessianFactor.ts) to U, the upper
// Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), in two blocked phases that both stay in S:
//
//   1. H = R·Rᵀ with R upper triangular: the Cholesky factorization with the index order reversed,
//      right-looking from the last block of columns up. Per block [s, e): factor_diagonal factors
//      the updated diagonal block in workgroup memory; panel solves R[0:s, s:e] = H[0:s, s:e]·R_D⁻ᵀ
//      row by row; the wrapper's matmul updates H[0:s, 0:s] −= R[0:s, s:e]·R[0:s, s:e]ᵀ.
//   2. U = R⁻¹ (upper, positive diagonal; (R⁻¹)ᵀR⁻¹ = (RRᵀ)⁻¹ and such a factor is unique), as the
//      solution of R·U = I by block back substitution, right-looking, from the last block row up.
//      Block row [s, e) of S holds, right of its diagonal block, the right-hand side accumulated so
//      far (B = I − Σ R·U over the rows below). Per block: invert_diagonal inverts R_D;
//      apply_inverse turns the block row into U[s:e, s:] = R_D⁻¹·B (in place, and a packed copy for
//      the matmul); take_panel moves R[0:s, s:e] out into the panel buffer and leaves the right-hand
//      side there (0, from I); the wrapper's matmul updates S[0:s, s:] −= R[0:s, s:e]·U[s:e, s:].
//      Every product has s × (n − s) outputs and inner size e − s: the same parallel shape as the
//      trailing updates of phase 1, and no work on zero triangles.
//
// Only the upper triangle of S is read; zero_lower clears the rest at the end, so that U can be read
// as a plain matrix.
//
// Before phase 1: check counts non-finite entries, diagonal fixes dead inputs (a zero diagonal
// becomes 1, as SparseGPT does) and copies the diagonal out, mean averages it, damp adds
// damping · mean to the diagonal. Everything the host needs to decide (non-finite entries, dead
// inputs, a failed pivot) lands in a small status record of u32 slots, read back once per attempt;
// after a failure the later kernels compute garbage, which is thrown away.
//
// Bindings of S are windows of rows (src/kernels/window.ts): `base` is the element offset of the
// window's first element in its binding, `row0` the global index of its first row, `n` S's leading
// dimension. NaN and ∞ are found from the exponent bits, since WGSL lets a compiler assume floats
// are finite.

struct Params {
  // Order of the matrix, S's leading dimension.
  n: u32,
  // Rows in this window (row-parallel kernels).
  rows: u32,
  // Global index of the window's first row (for diagonal blocks: the block's first index).
  row0: u32,
  base: u32,
  // Element offset of the panel's window (panel).
  base2: u32,
  // Width of the diagonal block (≤ MAXB).
  width: u32,
  // apply_inverse: leading dimension of the packed copy.
  ld2: u32,
  // damp: the damping as a fraction of the mean diagonal.
  damping: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Status slots (the wrapper reads them by the same numbers).
const FAILED: u32 = 0u;
const PIVOT: u32 = 1u;
const PIVOT_VALUE: u32 = 2u;
const DEAD: u32 = 3u;
const NON_FINITE: u32 = 4u;
const FIRST_NON_FINITE: u32 = 5u;
const MEAN: u32 = 6u;

const MAXB: u32 = 64u;

fn is_non_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

fn row_of(gid: vec3<u32>, groups: vec3<u32>, size: u32) -> u32 {
  return gid.x + gid.y * groups.x * size;
}

// One invocation per element of a window of whole rows.
@group(0) @binding(1) var<storage, read> ck_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> ck_status: array<atomic<u32>>;

@compute @workgroup_size(256)
fn check(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = row_of(gid, groups, 256u);
  if (t >= p.rows * p.n) {
    return;
  }
  if (is_non_finite(ck_s[p.base + t])) {
    atomicAdd(&ck_status[NON_FINITE], 1u);
    // Row-major position, so the host names the first bad entry as a scan would.
    atomicMin(&ck_status[FIRST_NON_FINITE], p.row0 * p.n + t);
  }
}

// One invocation per row; the window starts at the diagonal entry of its first row.
@group(0) @binding(1) var<storage, read_write> dg_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> dg_diag: array<f32>;
@group(0) @binding(3) var<storage, read_write> dg_dead: array<u32>;
@group(0) @binding(4) var<storage, read_write> dg_status: array<atomic<u32>>;

@compute @workgroup_size(64)
fn diagonal(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = row_of(gid, groups, 64u);
  if (i >= p.rows) {
    return;
  }
  let at = p.base + i * (p.n + 1u);
  let g = p.row0 + i;
  var d = dg_s[at];
  // An input that is zero in every calibration token: its weights cannot matter, and H_ii = 1
  // keeps the factorization going (the wrapper zeroes those weight columns).
  if (d == 0.0) {
    d = 1.0;
    dg_s[at] = 1.0;
    dg_dead[g] = 1u;
    atomicAdd(&dg_status[DEAD], 1u);
  } else {
    dg_dead[g] = 0u;
  }
  dg_diag[g] = d;
}

@group(0) @binding(1) var<storage, read> mn_diag: array<f32>;
@group(0) @binding(2) var<storage, read_write> mn_status: array<atomic<u32>>;

var<workgroup> partial: array<f32, 256>;

// One workgroup: the mean of the (fixed) diagonal.
@compute @workgroup_size(256)
fn mean(@builtin(local_invocation_index) t: u32) {
  var sum = 0.0;
  for (var i = t; i < p.n; i += 256u) {
    sum += mn_diag[i];
  }
  partial[t] = sum;
  workgroupBarrier();
  for (var half = 128u; half > 0u; half >>= 1u) {
    if (t < half) {
      partial[t] += partial[t + half];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    atomicStore(&mn_status[MEAN], bitcast<u32>(partial[0] / f32(p.n)));
  }
}

@group(0) @binding(1) var<storage, read_write> dm_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> dm_status: array<atomic<u32>>;

@compute @workgroup_size(64)
fn damp(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = row_of(gid, groups, 64u);
  if (i >= p.rows) {
    return;
  }
  let at = p.base + i * (p.n + 1u);
  dm_s[at] += p.damping * bitcast<f32>(atomicLoad(&dm_status[MEAN]));
}

// The diagonal block, row-major with stride MAXB.
var<workgroup> blk: array<f32, 4096>;

@group(0) @binding(1) var<storage, read_write> fd_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> fd_block: array<f32>;
@group(0) @binding(3) var<storage, read_write> fd_status: array<atomic<u32>>;

// One workgroup factors the width × width diagonal block D (window at its first entry) as
// D = R_D·R_Dᵀ, R_D upper, from the last column: R_jj = √D_jj, R_ij = D_ij / R_jj (i < j), then
// D_ik −= R_ij·R_kj for i ≤ k < j. Invocation t owns row t. R_D goes back into S and, packed
// width × width with zeros below the diagonal, into fd_block for the panel.
@compute @workgroup_size(64)
fn factor_diagonal(@builtin(local_invocation_index) t: u32) {
  let b = p.width;
  if (t < b) {
    for (var j = t; j < b; j++) {
      blk[t * MAXB + j] = fd_s[p.base + t * p.n + j];
    }
  }
  workgroupBarrier();
  for (var jj = 0u; jj < b; jj++) {
    let j = b - 1u - jj;
    let pivot = blk[j * MAXB + j];
    workgroupBarrier();
    let r = sqrt(pivot);
    if (t == 0u && (!(pivot > 0.0) || is_non_finite(pivot))) {
      // The first failure (in the order of factoring) is the one reported.
      if (atomicLoad(&fd_status[FAILED]) == 0u) {
        atomicStore(&fd_status[FAILED], 1u);
        atomicStore(&fd_status[PIVOT], p.row0 + j);
        atomicStore(&fd_status[PIVOT_VALUE], bitcast<u32>(pivot));
      }
    }
    if (t < j) {
      blk[t * MAXB + j] /= r;
    } else if (t == j) {
      blk[t * MAXB + j] = r;
    }
    workgroupBarrier();
    if (t < j) {
      let rtj = blk[t * MAXB + j];
      for (var k = t; k < j; k++) {
        blk[t * MAXB + k] -= rtj * blk[k * MAXB + j];
      }
    }
    workgroupBarrier();
  }
  if (t < b) {
    for (var j = 0u; j < b; j++) {
      let v = select(0.0, blk[t * MAXB + j], j >= t);
      if (j >= t) {
        fd_s[p.base + t * p.n + j] = v;
      }
      fd_block[t * b + j] = v;
    }
  }
}

@group(0) @binding(1) var<storage, read_write> pn_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> pn_panel: array<f32>;
@group(0) @binding(3) var<storage, read> pn_block: array<f32>;

// One invocation per row i of the panel H[0:s, s:e] (a window of rows from column s): back
// substitution for x with R_D·x = H[i, s:e]ᵀ, i.e. R[i, s:e] = H[i, s:e]·R_D⁻ᵀ. The result goes back
// into S and, packed rows × width (base2), into the panel buffer the trailing matmul reads.
@compute @workgroup_size(64)
fn panel(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let b = p.width;
  for (var q = t; q < b * b; q += 64u) {
    blk[(q / b) * MAXB + q % b] = pn_block[q];
  }
  workgroupBarrier();
  let i = row_of(gid, groups, 64u);
  if (i >= p.rows) {
    return;
  }
  var x: array<f32, 64>;
  for (var j = 0u; j < b; j++) {
    x[j] = pn_s[p.base + i * p.n + j];
  }
  for (var jj = 0u; jj < b; jj++) {
    let j = b - 1u - jj;
    var v = x[j];
    for (var k = j + 1u; k < b; k++) {
      v -= blk[j * MAXB + k] * x[k];
    }
    x[j] = v / blk[j * MAXB + j];
  }
  for (var j = 0u; j < b; j++) {
    pn_s[p.base + i * p.n + j] = x[j];
    pn_panel[p.base2 + i * b + j] = x[j];
  }
}

@group(0) @binding(1) var<storage, read_write> zl_s: array<f32>;

// One invocation per row of a window of whole rows: the entries left of the diagonal become 0.
@compute @workgroup_size(64)
fn zero_lower(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = row_of(gid, groups, 64u);
  if (i >= p.rows) {
    return;
  }
  for (var j = 0u; j < p.row0 + i; j++) {
    zl_s[p.base + i * p.n + j] = 0.0;
  }
}

@group(0) @binding(1) var<storage, read> iv_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> iv_block: array<f32>;

// One workgroup inverts the upper diagonal block R_D (window at its first entry) into iv_block,
// packed width × width with zeros below the diagonal: row t of U_D = R_D⁻¹ from U_D·R_D = I,
// U_tj = (δ_tj − Σ_{t≤k<j} U_tk·R_kj) / R_jj.
@compute @workgroup_size(64)
fn invert_diagonal(@builtin(local_invocation_index) t: u32) {
  let b = p.width;
  if (t < b) {
    for (var j = t; j < b; j++) {
      blk[t * MAXB + j] = iv_s[p.base + t * p.n + j];
    }
  }
  workgroupBarrier();
  if (t >= b) {
    return;
  }
  var u: array<f32, 64>;
  for (var j = t; j < b; j++) {
    var v = select(0.0, 1.0, j == t);
    for (var k = t; k < j; k++) {
      v -= u[k] * blk[k * MAXB + j];
    }
    u[j] = v / blk[j * MAXB + j];
  }
  for (var j = 0u; j < b; j++) {
    iv_block[t * b + j] = select(0.0, u[j], j >= t);
  }
}

@group(0) @binding(1) var<storage, read_write> ap_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> ap_copy: array<f32>;
@group(0) @binding(3) var<storage, read> ap_block: array<f32>;

// One invocation per column of a chunk of block row [s, s + width) (the window starts at the
// chunk's first column, `rows` columns wide; row0 = that column's index less s): the column x of
// the right-hand side (a unit vector inside the diagonal block, where S still holds R_D) becomes
// R_D⁻¹·x, written back into S and into the packed copy (leading dimension ld2, from base2).
@compute @workgroup_size(64)
fn apply_inverse(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let b = p.width;
  for (var q = t; q < b * b; q += 64u) {
    blk[(q / b) * MAXB + q % b] = ap_block[q];
  }
  workgroupBarrier();
  let c = row_of(gid, groups, 64u);
  if (c >= p.rows) {
    return;
  }
  let rel = p.row0 + c;
  var x: array<f32, 64>;
  for (var i = 0u; i < b; i++) {
    if (rel < b) {
      x[i] = select(0.0, 1.0, i == rel);
    } else {
      x[i] = ap_s[p.base + i * p.n + c];
    }
  }
  for (var i = 0u; i < b; i++) {
    var y = 0.0;
    for (var k = i; k < b; k++) {
      y += blk[i * MAXB + k] * x[k];
    }
    ap_s[p.base + i * p.n + c] = y;
    ap_copy[p.base2 + i * p.ld2 + c] = y;
  }
}

@group(0) @binding(1) var<storage, read_write> tp_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> tp_panel: array<f32>;

// One invocation per row i < s (a window of rows from column s): R[i, s:e] moves to the panel
// buffer (packed rows × width, from base2) and its place becomes the right-hand side's 0.
@compute @workgroup_size(64)
fn take_panel(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = row_of(gid, groups, 64u);
  if (i >= p.rows) {
    return;
  }
  for (var j = 0u; j < p.width; j++) {
    tp_panel[p.base2 + i * p.width + j] = tp_s[p.base + i * p.n + j];
    tp_s[p.base + i * p.n + j] = 0.0;
  }
}
