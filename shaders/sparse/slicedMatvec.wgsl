// y = W·x for a W in the sliced format (src/sparse/slicedFormat.ts): one invocation per slice of 8
// rows, no workgroup memory and no barrier. Slot by slot, the 8 rows take one entry each in
// lockstep: one step word gives all 8 column steps (4 bits each), two vec4 loads give the 8 values,
// and x is gathered at each row's column. Padding entries are +0 and add nothing. Every invocation
// of a workgroup walks about as many slots as the others (a slice is as long as its longest row,
// and rows of a pruned layer keep similar counts), so SIMD lanes rarely wait for each other, unlike
// the bitmask kernel's walk over set bits (bench/README.md, issue 15). Two slots an iteration:
// Subzero, SwiftShader's compiler, does not unroll, and a loop's bookkeeping costs about a load.

struct Params {
  // Slices and rows of the block (its last slice may have fewer than 8 rows).
  slices: u32,
  rows: u32,
  // Element offsets inside the bindings: the block's first slice start, step word, value (in
  // vec4s), x and y.
  off_s: u32,
  off_k: u32,
  off_v: u32,
  off_x: u32,
  off_y: u32,
  // The block's first slot: slice_starts holds slot indices of the whole matrix.
  first_slot: u32,
  // 1: y += W·x; 0: y = W·x.
  acc: u32,
}

const GROUP: u32 = 64u;
const SHIFTS = vec4<u32>(0u, 4u, 8u, 12u);

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> slice_starts: array<u32>;
@group(0) @binding(2) var<storage, read> steps: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

// The slice's 8 running columns (rows 0–3, 4–7) and sums.
struct Slice {
  col_a: vec4<u32>,
  col_b: vec4<u32>,
  sum_a: vec4<f32>,
  sum_b: vec4<f32>,
}

// Slot k of the block (counted from its first slot).
fn take_slot(k: u32, s: ptr<function, Slice>) {
  let word = vec4<u32>(steps[p.off_k + k]);
  (*s).col_a += (word >> SHIFTS) & vec4<u32>(15u);
  (*s).col_b += (word >> (SHIFTS + vec4<u32>(16u))) & vec4<u32>(15u);
  let a = p.off_x + (*s).col_a;
  let b = p.off_x + (*s).col_b;
  let v = p.off_v + 2u * k;
  (*s).sum_a += values[v] * vec4<f32>(x[a.x], x[a.y], x[a.z], x[a.w]);
  (*s).sum_b += values[v + 1u] * vec4<f32>(x[b.x], x[b.y], x[b.z], x[b.w]);
}

@compute @workgroup_size(GROUP)
fn sliced_matvec(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let slice = gid.x + gid.y * groups.x * GROUP;
  if (slice >= p.slices) {
    return;
  }
  var s = Slice();
  let end = slice_starts[p.off_s + slice + 1u] - p.first_slot;
  var k = slice_starts[p.off_s + slice] - p.first_slot;
  for (; k + 1u < end; k += 2u) {
    take_slot(k, &s);
    take_slot(k + 1u, &s);
  }
  if (k < end) {
    take_slot(k, &s);
  }
  let r0 = 8u * slice;
  for (var j = 0u; j < min(8u, p.rows - r0); j++) {
    let i = p.off_y + r0 + j;
    let v = select(s.sum_b[j & 3u], s.sum_a[j & 3u], j < 4u);
    y[i] = select(v, y[i] + v, p.acc != 0u);
  }
}
