// Row-wise softmax in place, y = exp(s·x − m) / Σ exp(s·x − m) with m the row maximum of s·x, and
// an optional causal mask: row r of the window is query first_row + r and sees columns 0..that
// (later columns become 0). Used on attention scores materialised by a matmul. One workgroup of
// GROUP per row (a power of two ≤ 64 the wrapper sizes to the row, so short rows do not leave most
// invocations idle): each invocation reduces a strided slice, the workgroup combines the slices
// pairwise, so an element goes through at most ceil(cols / GROUP) + log2(GROUP) additions.

struct Params {
  rows: u32,
  cols: u32,
  ld: u32,
  offset: u32,
  first_row: u32,
  causal: u32,
  scale: f32,
}

override GROUP: u32 = 64u;
const LOWEST: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

var<workgroup> partial: array<f32, GROUP>;

@compute @workgroup_size(GROUP)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= p.rows) {
    return;
  }
  let x0 = p.offset + row * p.ld;
  var valid = p.cols;
  if (p.causal != 0u) {
    valid = min(p.cols, p.first_row + row + 1u);
  }

  var m = LOWEST;
  for (var i = t; i < valid; i += GROUP) {
    m = max(m, p.scale * x[x0 + i]);
  }
  partial[t] = m;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] = max(partial[t], partial[t + stride]);
    }
    workgroupBarrier();
  }
  let row_max = partial[0];
  workgroupBarrier();

  var sum = 0.0;
  for (var i = t; i < valid; i += GROUP) {
    let e = exp(p.scale * x[x0 + i] - row_max);
    x[x0 + i] = e;
    sum += e;
  }
  partial[t] = sum;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] += partial[t + stride];
    }
    workgroupBarrier();
  }
  let inv = 1.0 / partial[0];
  for (var i = t; i < p.cols; i += GROUP) {
    x[x0 + i] = select(0.0, x[x0 + i] * inv, i < valid);
  }
}
