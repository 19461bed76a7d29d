// y = W·x for a bitmask-unstructured W (src/sparse/bitmaskFormat.ts), one workgroup per row of W.
// Invocation t owns a run of consecutive mask words; where its values start in the row is the
// number of bits set in the words before its run, found by a workgroup prefix sum of the runs'
// popcounts (Hillis–Steele, 7 steps). Each invocation then walks its set bits (lowest first, as the
// values are packed) reading its values in order and gathering x; the partial sums are added in a
// tree of 7 levels, as in matvec.wgsl. Short rows (bitmask_matvec_rows) take one invocation per row,
// walking all its words with no workgroup memory and no barrier; a CPU adapter runs it for every
// row length (src/kernels/matvecKernel.ts): there the 22 barriers cost more than a serial row.

struct Params {
  rows: u32,
  // Mask words per row, and how many consecutive words one invocation owns.
  words: u32,
  run: u32,
  // Element offsets inside the bindings: the block's first mask word, first row offset, x, y.
  off_m: u32,
  off_o: u32,
  off_x: u32,
  off_y: u32,
  // Binding of values: element (row offset − first_value + off_v) holds a row's first value.
  off_v: u32,
  first_value: u32,
  // 1: y += W·x; 0: y = W·x.
  acc: u32,
}

const GROUP: u32 = 128u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> mask: array<u32>;
@group(0) @binding(2) var<storage, read> row_offsets: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

var<workgroup> scan: array<u32, 128>;
var<workgroup> partial: array<f32, 128>;

@compute @workgroup_size(128)
fn bitmask_matvec(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  // Uniform: the row is the workgroup's.
  let row = wg.x + wg.y * groups.x;
  if (row >= p.rows) {
    return;
  }
  let first_w = p.off_m + row * p.words;
  let w0 = min(t * p.run, p.words);
  let w1 = min(w0 + p.run, p.words);
  var count = 0u;
  for (var w = w0; w < w1; w++) {
    count += countOneBits(mask[first_w + w]);
  }
  scan[t] = count;
  workgroupBarrier();
  for (var stride = 1u; stride < GROUP; stride *= 2u) {
    var add = 0u;
    if (t >= stride) {
      add = scan[t - stride];
    }
    workgroupBarrier();
    scan[t] += add;
    workgroupBarrier();
  }
  var v = p.off_v + row_offsets[p.off_o + row] - p.first_value + scan[t] - count;
  var acc = 0.0;
  for (var w = w0; w < w1; w++) {
    var bits = mask[first_w + w];
    while (bits != 0u) {
      let col = w * 32u + countTrailingZeros(bits);
      acc += values[v] * x[p.off_x + col];
      v++;
      bits &= bits - 1u;
    }
  }
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
fn bitmask_matvec_rows(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = (wg.x + wg.y * groups.x) * ROWS_GROUP + t;
  if (row >= p.rows) {
    return;
  }
  let first_w = p.off_m + row * p.words;
  var v = p.off_v + row_offsets[p.off_o + row] - p.first_value;
  var acc = 0.0;
  for (var w = 0u; w < p.words; w++) {
    var bits = mask[first_w + w];
    while (bits != 0u) {
      acc += values[v] * x[p.off_x + w * 32u + countTrailingZeros(bits)];
      v++;
      bits &= bits - 1u;
    }
  }
  let i = p.off_y + row;
  y[i] = select(acc, y[i] + acc, p.acc != 0u);
}
