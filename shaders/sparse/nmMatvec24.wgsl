// y = W·x for a 2:4 compressed W (src/sparse/nmFormat.ts) on a CPU adapter: the direct kernel for
// the format pruning for speed targets (src/sparse/nmMatvec.ts picks it when N = 2 and M = 4; any
// other N:M takes nm_matvec_direct in nmMatvec.wgsl). Each invocation sums 8 whole rows serially,
// no workgroup memory and no barrier, reading the format's buffers as stored: 8.5 of dense's 16
// bytes per group of 4.
//
// On SwiftShader every load whose address is computed at run time is a gather emulated lane by
// lane, and shifts measured expensive too (dropping two of the previous kernel's four shifts per
// group alone made it about 1.17× faster), while selects in registers are cheap. Measured in the
// CPU time of SwiftShader's worker threads, interleaved with the
// dense direct kernel (bench/README.md, "Issue 15: the 2:4 direct kernel without shifts"), this
// layout of the work beat the previous one (8 rows, the same x sharing, but each index taken by
// shifting the word and its kept values loaded one by one) by 1.26–1.47× in four runs:
// - 8 rows an invocation (two vec4 accumulators) share one walk over index words and groups, and
//   a group's 4 entries of x are loaded once for all 8 rows; each row picks its two with `select`;
// - a group's two kept values are adjacent in `values`, so they are read as one vec2: one address
//   (and one bounds clamp) per group and row instead of two;
// - no shift at all in the loop: each index bit is tested in place, `(word & m) == m`, and the
//   masks step to the next group by additions (four doublings: m + m, and so on).
// 16 rows an invocation, 4, vec4 loads of two groups' values, 64 invocations a workgroup and an
// unrolled walk over a word's 8 groups were each as fast or slower (same section).
//
// The picks rely on what the format guarantees (validateNm, called by uploadCompressed): a group's
// two indices are distinct and ascending, so the first is 0, 1 or 2 and the second 1, 2 or 3.

struct Params {
  // Rows of this block.
  rows: u32,
  // Kept values and index words per row.
  kept: u32,
  words: u32,
  // Element offsets of the block inside each binding (off_v in f32 elements, even: the wrapper
  // binds values so that every row's first kept value starts a vec2).
  off_v: u32,
  off_i: u32,
  off_x: u32,
  off_y: u32,
  // 1: y += W·x; 0: y = W·x.
  acc: u32,
}

const GROUP: u32 = 16u;
const ROWS: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
// A group's two kept values.
@group(0) @binding(1) var<storage, read> values: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// The kept values of group g of 4 rows whose first groups are at `first` (in vec2s).
struct KeptOfFour {
  first: vec4<f32>,
  second: vec4<f32>,
}

fn kept_of_four(first: vec4<u32>, g: u32) -> KeptOfFour {
  let a = values[first.x + g];
  let b = values[first.y + g];
  let c = values[first.z + g];
  let d = values[first.w + g];
  return KeptOfFour(vec4<f32>(a.x, b.x, c.x, d.x), vec4<f32>(a.y, b.y, c.y, d.y));
}

// The group's products for 4 rows: `word` holds each row's index word, m1 and m2 mask the bits of
// the group's first index, m8 the high bit of its second and m12 both bits of the second.
fn group_of_four(word: vec4<u32>, m1: u32, m2: u32, m8: u32, m12: u32, x4: vec4<f32>, kept: KeptOfFour) -> vec4<f32> {
  // First index 0, 1 or 2: bit 0 picks x1 over x0, bit 1 picks x2.
  let first = select(
    select(vec4<f32>(x4.x), vec4<f32>(x4.y), (word & vec4<u32>(m1)) == vec4<u32>(m1)),
    vec4<f32>(x4.z),
    (word & vec4<u32>(m2)) == vec4<u32>(m2),
  );
  // Second index 1, 2 or 3: bit 1 picks x2 over x1, both bits pick x3.
  let second = select(
    select(vec4<f32>(x4.y), vec4<f32>(x4.z), (word & vec4<u32>(m8)) == vec4<u32>(m8)),
    vec4<f32>(x4.w),
    (word & vec4<u32>(m12)) == vec4<u32>(m12),
  );
  return kept.first * first + kept.second * second;
}

@compute @workgroup_size(GROUP)
fn nm_matvec_direct_24(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r0 = ROWS * (gid.x + gid.y * groups.x * GROUP);
  if (r0 >= p.rows) {
    return;
  }
  // Rows past the block repeat its last row, so every read stays inside the bindings; only the
  // rows that exist are written.
  let last = vec4<u32>(p.rows - 1u);
  let rows_a = min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), last);
  let rows_b = min(vec4<u32>(r0) + vec4<u32>(4u, 5u, 6u, 7u), last);
  // Each row's first group, in vec2s (kept is even for 2:4).
  let fv_a = (p.off_v + rows_a * p.kept) / 2u;
  let fv_b = (p.off_v + rows_b * p.kept) / 2u;
  let fi_a = p.off_i + rows_a * p.words;
  let fi_b = p.off_i + rows_b * p.words;
  let row_groups = p.kept / 2u;
  var col = p.off_x;
  var g = 0u;
  var acc_a = vec4<f32>();
  var acc_b = vec4<f32>();
  for (var w = 0u; w < p.words; w++) {
    let word_a = vec4<u32>(indices[fi_a.x + w], indices[fi_a.y + w], indices[fi_a.z + w], indices[fi_a.w + w]);
    let word_b = vec4<u32>(indices[fi_b.x + w], indices[fi_b.y + w], indices[fi_b.z + w], indices[fi_b.w + w]);
    // 16 indices a word, 8 whole groups; the row's last word may hold fewer.
    let end = min(g + 8u, row_groups);
    var m1 = 1u;
    for (; g < end; g++) {
      let m2 = m1 + m1;
      let m4 = m2 + m2;
      let m8 = m4 + m4;
      let x4 = vec4<f32>(x[col], x[col + 1u], x[col + 2u], x[col + 3u]);
      acc_a += group_of_four(word_a, m1, m2, m8, m4 | m8, x4, kept_of_four(fv_a, g));
      acc_b += group_of_four(word_b, m1, m2, m8, m4 | m8, x4, kept_of_four(fv_b, g));
      m1 = m8 + m8;
      col += 4u;
    }
  }
  for (var j = 0u; j < min(ROWS, p.rows - r0); j++) {
    let i = p.off_y + r0 + j;
    let v = select(acc_b[j & 3u], acc_a[j & 3u], j < 4u);
    y[i] = select(v, y[i] + v, p.acc != 0u);
  }
}
