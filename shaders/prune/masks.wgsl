// Pruning masks and the scores they rank (see src/prune/masks.ts for the wrappers and windows).
//
//   row_mask:      one workgroup per row prunes exactly `prune` entries: the lowest scores, and among
//                  equal scores the lower column first. The threshold is found by a radix select on
//                  order-preserving u32 keys (4 passes of 8 bits, each a 256-bin workgroup histogram),
//                  then ties at the threshold are ranked in column order by workgroup prefix sums.
//   nm_mask:       one invocation per group of m consecutive entries keeps its n highest scores.
//   apply_keep:    w ← keep ? w : 0.
//   magnitude:     out = |w|.
//   wanda_norms:   norm[j] = sqrt(max(G[j, j], 0)), read along the Gram's diagonal (stride ld).
//   wanda_scores:  out[i, j] = |w[i, j]| · norm[j].
//
// Masks are exact: no arithmetic is done on scores, only comparisons of their keys, so the GPU must
// agree bit for bit with any correct reference. NaN scores are not checked for and give an
// unspecified (but still exactly-sized) mask: callers must not pass them.

// An order-preserving key: for any non-NaN a, b: a < b ⇔ key(a) < key(b), and a == b ⇔ key(a) ==
// key(b). −0 and +0 compare equal, so both map to the key of +0 (this is done on the bits, not with
// `s == 0.0`, which a flush-to-zero GPU would also make true for subnormals). Non-negative floats
// then get the sign bit set (their bits already order like their values); negative ones are
// inverted, so larger magnitudes sort lower.
fn order_key(s: f32) -> u32 {
  var b = bitcast<u32>(s);
  if ((b & 0x7fffffffu) == 0u) {
    b = 0u;
  }
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// ——— row_mask ———

struct RowParams {
  // Rows in this window, and the columns of each (rows are contiguous: leading dimension = cols).
  rows: u32,
  cols: u32,
  off_scores: u32,
  off_keep: u32,
  // Entries to prune in every row, 0 ≤ prune ≤ cols.
  prune: u32,
}

const GROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> rp: RowParams;
@group(0) @binding(1) var<storage, read> row_scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> row_keep: array<u32>;

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> scan: array<u32, 256>;
// The chosen bin of a radix pass: (digit, keys below it, keys in it).
var<workgroup> chosen: vec3<u32>;
// The last element of an inclusive scan, read back uniformly.
var<workgroup> scan_total: u32;

// In-place inclusive prefix sum of scan[0..256) (Hillis–Steele: 8 steps). Every invocation must
// call it from uniform control flow after writing its own scan[t].
fn inclusive_scan(t: u32) {
  workgroupBarrier();
  for (var offset = 1u; offset < GROUP; offset <<= 1u) {
    var v = scan[t];
    if (t >= offset) {
      v += scan[t - offset];
    }
    workgroupBarrier();
    scan[t] = v;
    workgroupBarrier();
  }
}

fn row_key(first: u32, j: u32) -> u32 {
  return order_key(row_scores[rp.off_scores + first + j]);
}

@compute @workgroup_size(256)
fn row_mask(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= rp.rows) {
    return;
  }
  let cols = rp.cols;
  let first = row * cols;

  // The threshold key T is the prune-th smallest key (1-based). Every key < T is pruned, and of the
  // `ties` keys == T the first `need` in column order. With prune = 0 nothing is searched: T = 0
  // (no key is below it) and need = 0 keep every entry.
  var threshold = 0u;
  var need = 0u;
  var ties = 0u;
  if (rp.prune > 0u) {
    // Radix select, most significant byte first: each pass histograms the keys that agree with the
    // threshold's bytes chosen so far, and picks the bin holding the need-th smallest of them.
    // Four passes over the row instead of the 32 a bitwise binary search needs.
    need = rp.prune;
    for (var digit = 0u; digit < 4u; digit++) {
      let shift = 24u - 8u * digit;
      // The bytes already fixed (none in the first pass; a shift by 32 would wrap to 0).
      let fixed = select(0u, 0xffffffffu << (shift + 8u), digit > 0u);
      atomicStore(&hist[t], 0u);
      workgroupBarrier();
      for (var j = t; j < cols; j += GROUP) {
        let key = row_key(first, j);
        if (((key ^ threshold) & fixed) == 0u) {
          atomicAdd(&hist[(key >> shift) & 0xffu], 1u);
        }
      }
      workgroupBarrier();
      let count = atomicLoad(&hist[t]);
      scan[t] = count;
      inclusive_scan(t);
      let below = scan[t] - count;
      // Exactly one bin holds the need-th key: below < need ≤ below + count.
      if (below < need && need <= below + count) {
        chosen = vec3<u32>(t, below, count);
      }
      // Also the barrier that orders this pass's reads of hist and scan before the next pass's writes.
      let c = workgroupUniformLoad(&chosen);
      threshold |= c.x << shift;
      need -= c.y;
      ties = c.z;
    }
  }

  // Ties seen so far, in column order.
  var carry = 0u;
  var base = 0u;
  if (need < ties) {
    // Only some ties are pruned: rank them 256 columns at a time until `need` have been passed.
    // (When all are, need == ties, no ranking is needed: the common case for continuous scores.)
    loop {
      if (base >= cols || carry >= need) {
        break;
      }
      let j = base + t;
      var key = 0u;
      var tie = 0u;
      if (j < cols) {
        key = row_key(first, j);
        tie = select(0u, 1u, key == threshold);
      }
      scan[t] = tie;
      inclusive_scan(t);
      // Ties before column j in this row.
      let rank = carry + scan[t] - tie;
      if (t == GROUP - 1u) {
        scan_total = scan[t];
      }
      if (j < cols) {
        let keep = key > threshold || (tie == 1u && rank >= need);
        row_keep[rp.off_keep + first + j] = select(0u, 1u, keep);
      }
      carry += workgroupUniformLoad(&scan_total);
      base += GROUP;
    }
  }
  // The remaining columns: keys below T are pruned, and ties too while fewer than `need` have
  // been seen (which, past the ranked chunks, means all of them or none).
  let prune_ties = carry < need;
  for (var j = base + t; j < cols; j += GROUP) {
    let key = row_key(first, j);
    let keep = key > threshold || (key == threshold && !prune_ties);
    row_keep[rp.off_keep + first + j] = select(0u, 1u, keep);
  }
}

// ——— nm_mask ———

struct NmParams {
  // Groups of m consecutive entries in this window.
  groups: u32,
  n: u32,
  m: u32,
  off_scores: u32,
  off_keep: u32,
}

// The largest m the private key array holds (the wrapper rejects larger).
const MAX_M: u32 = 64u;

@group(0) @binding(0) var<uniform> np: NmParams;
@group(0) @binding(1) var<storage, read> nm_scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> nm_keep: array<u32>;

@compute @workgroup_size(64)
fn nm_mask(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let g = gid.x + gid.y * groups.x * 64u;
  if (g >= np.groups) {
    return;
  }
  let first = g * np.m;
  var keys: array<u32, MAX_M>;
  for (var i = 0u; i < np.m; i++) {
    keys[i] = order_key(nm_scores[np.off_scores + first + i]);
  }
  // Entry i is kept when fewer than n entries outrank it: a higher key, or an equal key in a higher
  // column (ties prune the lower column first, so the higher one ranks above).
  for (var i = 0u; i < np.m; i++) {
    var above = 0u;
    for (var j = 0u; j < np.m; j++) {
      let ranks_above = keys[j] > keys[i] || (keys[j] == keys[i] && j > i);
      above += select(0u, 1u, ranks_above);
    }
    nm_keep[np.off_keep + first + i] = select(0u, 1u, above < np.n);
  }
}

// ——— elementwise: apply_keep, magnitude, wanda ———

struct VecParams {
  n: u32,
  off_a: u32,
  off_b: u32,
  // wanda_norms: the stride between consecutive elements of a (the Gram's diagonal: cols + 1).
  stride_a: u32,
}

@group(0) @binding(0) var<uniform> vp: VecParams;

fn element(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * 256u;
}

// w ← keep ? w : 0
@group(0) @binding(1) var<storage, read_write> apply_w: array<f32>;
@group(0) @binding(2) var<storage, read> apply_mask: array<u32>;

@compute @workgroup_size(256)
fn apply_keep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < vp.n && apply_mask[vp.off_b + i] == 0u) {
    apply_w[vp.off_a + i] = 0.0;
  }
}

// out = |w|
@group(0) @binding(1) var<storage, read> magnitude_w: array<f32>;
@group(0) @binding(2) var<storage, read_write> magnitude_out: array<f32>;

@compute @workgroup_size(256)
fn magnitude(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < vp.n) {
    magnitude_out[vp.off_b + i] = abs(magnitude_w[vp.off_a + i]);
  }
}

// norm[i] = sqrt(max(G[i·stride], 0)): Wanda's ‖X_j‖₂ from the Gram's diagonal. Rounding can make a
// diagonal entry of an accumulated Gram slightly negative only if it is ~0; the clamp keeps sqrt real.
@group(0) @binding(1) var<storage, read> diag_g: array<f32>;
@group(0) @binding(2) var<storage, read_write> diag_norm: array<f32>;

@compute @workgroup_size(256)
fn wanda_norms(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = element(gid, groups);
  if (i < vp.n) {
    diag_norm[vp.off_b + i] = sqrt(max(diag_g[vp.off_a + i * vp.stride_a], 0.0));
  }
}

struct WandaParams {
  // A rows × cols block of a row-major matrix with leading dimension ld.
  rows: u32,
  cols: u32,
  ld: u32,
  off_w: u32,
  off_out: u32,
  off_norm: u32,
}

@group(0) @binding(0) var<uniform> wp: WandaParams;
@group(0) @binding(1) var<storage, read> wanda_w: array<f32>;
@group(0) @binding(2) var<storage, read> wanda_norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> wanda_out: array<f32>;

@compute @workgroup_size(256)
fn wanda_scores(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = element(gid, groups);
  if (e < wp.rows * wp.cols) {
    let r = e / wp.cols;
    let c = e % wp.cols;
    let w = wanda_w[wp.off_w + r * wp.ld + c];
    wanda_out[wp.off_out + r * wp.ld + c] = abs(w) * wanda_norm[wp.off_norm + c];
  }
}
