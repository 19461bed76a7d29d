// y = W·x for an N:M compressed W (src/sparse/nmFormat.ts), one workgroup per row of W, reading
// the kept values and their packed in-group indices directly: a 2:4 row is read in 8.5 of dense's
// 16 bytes per group of 4. Invocation t takes groups t, t + 128, …, so neighbouring invocations
// read neighbouring values and share index words; x is gathered by column. The 128
// partial sums are added in a tree of 7 levels, as in matvec.wgsl. N, M and the index packing are
// pipeline constants; the one division per group is by a constant, and none is left per value.
// Short rows (nm_matvec_rows) take one invocation per row instead, summing the row serially with no
// workgroup memory and no barrier: a row of a few dozen kept values leaves most of a 128-wide
// workgroup idle, and on a CPU adapter the tree's barriers cost more than the row's arithmetic.
// A CPU adapter runs nm_matvec_direct (below) for every row length instead, and for 2:4
// nm_matvec_direct_24 (nmMatvec24.wgsl).

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
