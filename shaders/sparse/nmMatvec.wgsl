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
// invocation sums 8 whole rows serially (two vec4 accumulators), no workgroup memory and no
// barrier. On SwiftShader every load whose address is computed at run time costs about the same
// (a gather, emulated lane by lane); arithmetic in registers is cheap beside it. So the kernel
// counts loads per kept value:
// - values: one per kept value per row, unavoidable;
// - index words: one per PER_WORD kept values per row, read once and shifted down;
// - x: for M = 4 the group's 4 entries are loaded once at the group's start, at the same address in
//   every lane and shared by the 8 rows, and each row picks its entry by its index's two bits with
//   `select` (no load): 4 loads per group per 8 rows instead of N per row. Any other M gathers
//   x[col + index] per kept value, as before.
// The 8 rows share the walk over index words and groups (every row of W has the same kept count).
// Measured on SwiftShader (bench/README.md, "Issue 15: the N:M direct kernel"): 8 rows and the
// picked x beat 4 rows and the gathered x by about 2× at 768×768.
const DIRECT_GROUP: u32 = 16u;
const DIRECT_ROWS: u32 = 8u;

// The x entry each of 4 rows' 2-bit in-group index selects from the group's x4.
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

fn x_of_four(c: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(x[c.x], x[c.y], x[c.z], x[c.w]);
}

@compute @workgroup_size(DIRECT_GROUP)
fn nm_matvec_direct(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r0 = DIRECT_ROWS * (gid.x + gid.y * groups.x * DIRECT_GROUP);
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
  let index_mask = vec4<u32>((1u << BITS) - 1u);
  // The x index of the current group's first column, and the place in the group.
  var col = p.off_x;
  var s = 0u;
  var k = 0u;
  var group_x = vec4<f32>();
  var acc_a = vec4<f32>();
  var acc_b = vec4<f32>();
  for (var w = 0u; w < p.words; w++) {
    var word_a = vec4<u32>(indices[fi_a.x + w], indices[fi_a.y + w], indices[fi_a.z + w], indices[fi_a.w + w]);
    var word_b = vec4<u32>(indices[fi_b.x + w], indices[fi_b.y + w], indices[fi_b.z + w], indices[fi_b.w + w]);
    let n = min(PER_WORD, p.kept - k);
    for (var j = 0u; j < n; j++) {
      var x_a: vec4<f32>;
      var x_b: vec4<f32>;
      // M is a pipeline constant: the branch not taken is compiled away.
      if (M == 4u) {
        if (s == 0u) {
          group_x = vec4<f32>(x[col], x[col + 1u], x[col + 2u], x[col + 3u]);
        }
        x_a = pick_of_four(word_a, group_x);
        x_b = pick_of_four(word_b, group_x);
      } else {
        x_a = x_of_four(col + (word_a & index_mask));
        x_b = x_of_four(col + (word_b & index_mask));
      }
      acc_a += kept_of_four(fv_a, k + j) * x_a;
      acc_b += kept_of_four(fv_b, k + j) * x_b;
      word_a >>= vec4<u32>(BITS);
      word_b >>= vec4<u32>(BITS);
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
    let v = select(acc_b[j & 3u], acc_a[j & 3u], j < 4u);
    y[i] = select(v, y[i] + v, p.acc != 0u);
  }
}
