// y = G·x for a row-major matrix G with leading dimension ld, one workgroup per row: each of the
// 128 invocations sums a strided share of the row, then the workgroup adds the 128 partials in a
// tree of 7 levels. The wrapper splits G into blocks of rows and columns that fit one binding;
// a block after the first column block adds to y (ACC), and the last one may also write
// dots = x_rows ⊙ y, the terms of xᵀG·x (x_rows is x bound over the block's rows), so that a
// Rayleigh quotient needs no separate elementwise pass.

struct Params {
  rows: u32,
  cols: u32,
  ld: u32,
  off_g: u32,
  off_x: u32,
  off_y: u32,
  off_xr: u32,
  off_dots: u32,
  // 1: y += G·x; 0: y = G·x.
  acc: u32,
}

const GROUP: u32 = 128u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> x_rows: array<f32>;
@group(0) @binding(5) var<storage, read_write> dots: array<f32>;

var<workgroup> partial: array<f32, 128>;

// The row's value of G·x (the block's columns), in every invocation of the workgroup.
fn row_product(row: u32, t: u32) -> f32 {
  var acc = 0.0;
  let first = p.off_g + row * p.ld;
  for (var c = t; c < p.cols; c += GROUP) {
    acc += g[first + c] * x[p.off_x + c];
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] += partial[t + stride];
    }
    workgroupBarrier();
  }
  return partial[0];
}

fn row_of(wg: vec3<u32>, groups: vec3<u32>) -> u32 {
  return wg.x + wg.y * groups.x;
}

@compute @workgroup_size(128)
fn matvec(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  // The row is the same for the whole workgroup, so this return is uniform.
  let row = row_of(wg, groups);
  if (row >= p.rows) {
    return;
  }
  let s = row_product(row, t);
  if (t == 0u) {
    let i = p.off_y + row;
    y[i] = select(s, y[i] + s, p.acc != 0u);
  }
}

@compute @workgroup_size(128)
fn matvec_dots(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = row_of(wg, groups);
  if (row >= p.rows) {
    return;
  }
  let s = row_product(row, t);
  if (t == 0u) {
    let i = p.off_y + row;
    let total = select(s, y[i] + s, p.acc != 0u);
    y[i] = total;
    dots[p.off_dots + row] = x_rows[p.off_xr + row] * total;
  }
}

// y = Aᵀ·x over the block, one invocation per column of A and no workgroup memory: invocation c
// walks down its column, and neighbouring invocations read neighbouring addresses at every row.
// For a symmetric A (a Gram matrix) this is A·x without the per-row tree and its barriers, which
// CPU adapters pay dearly for. A block after the first row block adds to y (ACC). The bindings
// are matvec's: g = A's block, x over the block's rows, y over its columns.
@compute @workgroup_size(256)
fn matvec_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let c = gid.x + gid.y * groups.x * 256u;
  if (c >= p.cols) {
    return;
  }
  var acc = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    acc += g[p.off_g + r * p.ld + c] * x[p.off_x + r];
  }
  let i = p.off_y + c;
  y[i] = select(acc, y[i] + acc, p.acc != 0u);
}
