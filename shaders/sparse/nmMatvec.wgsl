// y = W·x for an N:M compressed W (src/sparse/nmFormat.ts), one workgroup per row of W, reading
// the kept values and their packed in-group indices directly: a 2:4 row is read in 8.5 of dense's
// 16 bytes per group of 4. Invocation t takes groups t, t + 128, …, so neighbouring invocations
// read neighbouring values and share index words; x is gathered by column. The 128
// partial sums are added in a tree of 7 levels, as in matvec.wgsl. N, M and the index packing are
// pipeline constants; the one division per group is by a constant, and none is left per value.
// Short rows (nm_matvec_rows) take one invocation per row instead, summing the row serially with no
// workgroup memory and no barrier: a row of a few dozen kept values leaves most of a 128-wide
// workgroup idle, and on a CPU adapter the tree's barriers cost more than the row's arithmetic.
// A CPU adapter runs nm_matvec_direct (below) for every row length instead.

override N: u32 = 2u;
override M: u32 = 4u;
override BITS: u32 = 2u;
override PER_WORD: u32 = 16u;

struct Params {
  // Rows of this block.
  rows: u32,
  // Kept values and index words per row.
  kept: u32,
  words: u32,
  // Element offsets of the block inside each binding.
  off_v: u32,
  off_i: u32,
  off_x: u32,
  off_y: u32,
  // 1: y += W·x; 0: y = W·x.
  acc: u32,
}

const GROUP: u32 = 128u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, 128>;

// Σ over groups g = start, start + step, … of the row's kept values times the x they index.
fn row_part(row: u32, start: u32, step: u32) -> f32 {
  let first_v = p.off_v + row * p.kept;
  let first_i = p.off_i + row * p.words;
  let index_mask = (1u << BITS) - 1u;
  var acc = 0.0;
  for (var g = start; g < p.kept / N; g += step) {
    // Where the group's first index sits; its later ones follow, into the next word if need be
    // (4:8 packs 10 indices per word), so the inner loop divides by nothing.
    let k0 = g * N;
    var w = first_i + k0 / PER_WORD;
    var slot = k0 % PER_WORD;
    var word = indices[w] >> (slot * BITS);
    for (var s = 0u; s < N; s++) {
      if (slot == PER_WORD) {
        w++;
        slot = 0u;
        word = indices[w];
      }
      acc += values[first_v + k0 + s] * x[p.off_x + g * M + (word & index_mask)];
      word >>= BITS;
      slot++;
    }
  }
  return acc;
}

@compute @workgroup_size(128)
fn nm_matvec(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  // The row is the same for the whole workgroup, so this return is uniform.
  let row = wg.x + wg.y * groups.x;
  if (row >= p.rows) {
    return;
  }
  let acc = row_part(row, t, GROUP);
  partial[t] = acc;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] += partial[t + stride];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    let i = p.off_y + row;
    y[i] = select(partial[0], y[i] + partial[0], p.acc != 0u);
  }
}

const ROWS_GROUP: u32 = 64u;

@compute @workgroup_size(64)
fn nm_matvec_rows(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = (wg.x + wg.y * groups.x) * ROWS_GROUP + t;
  if (row >= p.rows) {
    return;
  }
  let acc = row_part(row, 0u, 1u);
  let i = p.off_y + row;
  y[i] = select(acc, y[i] + acc, p.acc != 0u);
}


// The direct kernel, for CPU adapters (src/kernels/matvecKernel.ts), at every row length: each
// invocation sums 4 whole rows serially, no workgroup memory and no barrier. The 4 rows share the
// walk over index words and groups (every row of W has the same kept count), so the loop's
// bookkeeping is paid once per 4 products; each index word is read once and shifted down, so no
// division is left at all. Measured on SwiftShader (bench/README.md): 4 rows an invocation beat 1
// by 1.5–2×, and 16 invocations a workgroup beat 64 at three of the four shapes.
const DIRECT_GROUP: u32 = 16u;
const DIRECT_ROWS: u32 = 4u;

@compute @workgroup_size(DIRECT_GROUP)
fn nm_matvec_direct(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r0 = DIRECT_ROWS * (gid.x + gid.y * groups.x * DIRECT_GROUP);
  if (r0 >= p.rows) {
    return;
  }
  // Rows past the block repeat its last row, so every read stays inside the bindings; only the
  // rows that exist are written.
  let rows = min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.rows - 1u));
  let fv = p.off_v + rows * p.kept;
  let fi = p.off_i + rows * p.words;
  let index_mask = vec4<u32>((1u << BITS) - 1u);
  // The x index of the current group's first column, and the place in the group.
  var col = p.off_x;
  var s = 0u;
  var k = 0u;
  var acc = vec4<f32>();
  for (var w = 0u; w < p.words; w++) {
    var word = vec4<u32>(indices[fi.x + w], indices[fi.y + w], indices[fi.z + w], indices[fi.w + w]);
    let n = min(PER_WORD, p.kept - k);
    for (var j = 0u; j < n; j++) {
      let c = col + (word & index_mask);
      let v = k + j;
      acc += vec4<f32>(values[fv.x + v], values[fv.y + v], values[fv.z + v], values[fv.w + v])
        * vec4<f32>(x[c.x], x[c.y], x[c.z], x[c.w]);
      word >>= vec4<u32>(BITS);
      s++;
      if (s == N) {
        s = 0u;
        col += M;
      }
    }
    k += n;
  }
  for (var j = 0u; j < min(DIRECT_ROWS, p.rows - r0); j++) {
    let i = p.off_y + r0 + j;
    y[i] = select(acc[j], y[i] + acc[j], p.acc != 0u);
  }
}

// The direct kernel for 2:4, the format pruning for speed targets (nm_matvec_direct_24; the wrapper
// picks it when N = 2 and M = 4, any other N:M takes nm_matvec_direct above). On SwiftShader every
// load whose address is computed at run time is a gather emulated lane by lane, and a loop's
// bookkeeping costs about as much as a load, while selects in registers are cheap. So this kernel
// cuts loads and loops:
// - 8 rows an invocation (two vec4 accumulators) share one walk over index words and groups;
// - a group's 4 entries of x are loaded once, at an address every lane shares, for all 8 rows, and
//   each row picks the entry its 2-bit index names with `select` instead of gathering x[4g + index]:
//   4 loads of x per group per 8 rows instead of 2 per row;
// - the group's two kept values are written out, not looped over (a loop over N here measured
//   slower than the 4-row kernel above).
// Loads per dense weight: 1/2 (values) + 1/32 (index words) + 1/8 (x), against the dense direct
// kernel's 1 + 1/8. Measured in CPU time on SwiftShader (bench/README.md, "Issue 15: the 2:4 direct
// kernel"): 1.31 / 0.93 / 1.61 / 1.36× the dense direct kernel at 768×768, 3072×768, 768×3072 and
// 4096×4096, where the 4-row kernel above was 0.95 / 0.73 / 1.16 / 1.14×.
const DIRECT_ROWS_24: u32 = 8u;

// The x entry each of 4 rows' 2-bit in-group index (the low bits of `index`) names in the group's x4.
fn pick_of_four(index: vec4<u32>, x4: vec4<f32>) -> vec4<f32> {
  let odd = (index & vec4<u32>(1u)) != vec4<u32>(0u);
  let high = (index & vec4<u32>(2u)) != vec4<u32>(0u);
  let low_pair = select(vec4<f32>(x4.x), vec4<f32>(x4.y), odd);
  let high_pair = select(vec4<f32>(x4.z), vec4<f32>(x4.w), odd);
  return select(low_pair, high_pair, high);
}

// Kept value v of the 4 rows whose first values are at `first`.
fn kept_of_four(first: vec4<u32>, v: u32) -> vec4<f32> {
  return vec4<f32>(values[first.x + v], values[first.y + v], values[first.z + v], values[first.w + v]);
}

@compute @workgroup_size(DIRECT_GROUP)
fn nm_matvec_direct_24(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let r0 = DIRECT_ROWS_24 * (gid.x + gid.y * groups.x * DIRECT_GROUP);
  if (r0 >= p.rows) {
    return;
  }
  // Rows past the block repeat its last row, so every read stays inside the bindings; only the
  // rows that exist are written.
  let last = vec4<u32>(p.rows - 1u);
  let rows_a = min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), last);
  let rows_b = min(vec4<u32>(r0) + vec4<u32>(4u, 5u, 6u, 7u), last);
  let fv_a = p.off_v + rows_a * p.kept;
  let fv_b = p.off_v + rows_b * p.kept;
  let fi_a = p.off_i + rows_a * p.words;
  let fi_b = p.off_i + rows_b * p.words;
  var col = p.off_x;
  var k = 0u;
  var acc_a = vec4<f32>();
  var acc_b = vec4<f32>();
  for (var w = 0u; w < p.words; w++) {
    var word_a = vec4<u32>(indices[fi_a.x + w], indices[fi_a.y + w], indices[fi_a.z + w], indices[fi_a.w + w]);
    var word_b = vec4<u32>(indices[fi_b.x + w], indices[fi_b.y + w], indices[fi_b.z + w], indices[fi_b.w + w]);
    // 16 indices a word, 8 whole groups: no group straddles two words.
    let end = k + min(16u, p.kept - k);
    for (; k < end; k += 2u) {
      let x4 = vec4<f32>(x[col], x[col + 1u], x[col + 2u], x[col + 3u]);
      acc_a += kept_of_four(fv_a, k) * pick_of_four(word_a, x4)
        + kept_of_four(fv_a, k + 1u) * pick_of_four(word_a >> vec4<u32>(2u), x4);
      acc_b += kept_of_four(fv_b, k) * pick_of_four(word_b, x4)
        + kept_of_four(fv_b, k + 1u) * pick_of_four(word_b >> vec4<u32>(2u), x4);
      word_a >>= vec4<u32>(4u);
      word_b >>= vec4<u32>(4u);
      col += 4u;
    }
  }
  for (var j = 0u; j < min(DIRECT_ROWS_24, p.rows - r0); j++) {
    let i = p.off_y + r0 + j;
    let v = select(acc_b[j & 3u], acc_a[j & 3u], j < 4u);
    y[i] = select(v, y[i] + v, p.acc != 0u);
  }
}
