// y = G·x for a row-major matrix G with leading dimension ld, by one of two kernels (chosen in
// src/kernels/matvecKernel.ts). matvec and matvec_dots: one workgroup per row, each of the 128
// invocations sums a strided share of the row, then the workgroup adds the 128 partials in a
// tree of 7 levels. The wrapper splits G into blocks of rows and columns that fit one binding;
// a block after the first column block adds to y (ACC), and the last one may also write
// dots = x_rows ⊙ y, the terms of xᵀG·x (x_rows is x bound over the block's rows), so that a
// Rayleigh quotient needs no separate elementwise pass. matvec_direct and matvec_direct_dots, for
// CPU adapters, compute the same with 8 rows an invocation and no barrier (below);
// matvec_direct4 and matvec_direct4_dots read G and x as vec4 when the layout allows (below).

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

// The same G and x as vec4, for the vec4 direct entry points only (an entry point may use one
// variable of a binding; the wrapper binds them only when ld, cols and both offsets are multiples
// of 4, so every vec4 is 16-byte aligned and whole).
@group(0) @binding(1) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;

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


// The direct kernel, for CPU adapters (src/kernels/matvecKernel.ts): each invocation sums 8 whole
// rows serially in registers, no workgroup memory and no barrier. On SwiftShader invocations run
// in lockstep groups of SIMD lanes, each lane's row read by a gather, while x[c], the same address
// in every lane, is one load: 8 rows an invocation share each x[c] between 8 products. Measured on
// OPT-125M's and LLaMA-7B's shapes (bench/README.md): 8 rows beat 1 by 2.8–3.9× and 4 by up to
// 1.6×, and 64 invocations a workgroup beat 16 at three of the four shapes.
const DIRECT_GROUP: u32 = 64u;
const DIRECT_ROWS: u32 = 8u;

struct EightRows {
  first: vec4<f32>,
  second: vec4<f32>,
}

// Rows r0 … r0 + 7 of the block's G·x. Rows past the block repeat its last row (so every read is
// inside the binding); the callers write only the rows that exist.
fn direct_rows(r0: u32) -> EightRows {
  let last = vec4<u32>(p.rows - 1u);
  let a = p.off_g + min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), last) * p.ld;
  let b = p.off_g + min(vec4<u32>(r0) + vec4<u32>(4u, 5u, 6u, 7u), last) * p.ld;
  var sa = vec4<f32>();
  var sb = vec4<f32>();
  for (var c = 0u; c < p.cols; c++) {
    let xc = x[p.off_x + c];
    sa += vec4<f32>(g[a.x + c], g[a.y + c], g[a.z + c], g[a.w + c]) * xc;
    sb += vec4<f32>(g[b.x + c], g[b.y + c], g[b.z + c], g[b.w + c]) * xc;
  }
  return EightRows(sa, sb);
}

fn direct_first_row(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return DIRECT_ROWS * (gid.x + gid.y * groups.x * DIRECT_GROUP);
}

// Row r0 + j's sum, j < 8.
fn eight_at(s: EightRows, j: u32) -> f32 {
  return select(s.second[j & 3u], s.first[j & 3u], j < 4u);
}

@compute @workgroup_size(DIRECT_GROUP)
fn matvec_direct(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r0 = direct_first_row(gid, groups);
  if (r0 >= p.rows) {
    return;
  }
  store_eight(r0, direct_rows(r0));
}

// Writes the products of rows r0… (up to 8, those that exist) into y.
fn store_eight(r0: u32, s: EightRows) {
  for (var j = 0u; j < min(DIRECT_ROWS, p.rows - r0); j++) {
    store_direct_row(r0 + j, eight_at(s, j));
  }
}

// store_eight, and each row's x_rows ⊙ y into dots.
fn store_eight_dots(r0: u32, s: EightRows) {
  for (var j = 0u; j < min(DIRECT_ROWS, p.rows - r0); j++) {
    let total = store_direct_row(r0 + j, eight_at(s, j));
    dots[p.off_dots + r0 + j] = x_rows[p.off_xr + r0 + j] * total;
  }
}

// Writes row r's product into y (added to it when accumulating) and returns what y now holds.
fn store_direct_row(r: u32, v: f32) -> f32 {
  let i = p.off_y + r;
  let total = select(v, y[i] + v, p.acc != 0u);
  y[i] = total;
  return total;
}

@compute @workgroup_size(DIRECT_GROUP)
fn matvec_direct_dots(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let r0 = direct_first_row(gid, groups);
  if (r0 >= p.rows) {
    return;
  }
  store_eight_dots(r0, direct_rows(r0));
}

// The vec4 direct kernel: direct_rows with G and x read 4 columns at a time. SwiftShader loads a
// vec4 at once where the scalar kernel gathers 4 times, and x's vec4 is shared by the 8 rows as
// x[c] is. Each row keeps 4 partial sums (columns c ≡ 0, 1, 2, 3 mod 4) added at the end, so a
// row's serial additions drop from cols to cols / 4 + 3. Measured in bench/README.md ("Issue 15: a vec4 dense direct kernel").
fn direct4_rows(r0: u32) -> EightRows {
  let last = vec4<u32>(p.rows - 1u);
  let ld4 = p.ld / 4u;
  let g0 = p.off_g / 4u;
  let a = g0 + min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), last) * ld4;
  let b = g0 + min(vec4<u32>(r0) + vec4<u32>(4u, 5u, 6u, 7u), last) * ld4;
  let x0 = p.off_x / 4u;
  var s0 = vec4<f32>();
  var s1 = vec4<f32>();
  var s2 = vec4<f32>();
  var s3 = vec4<f32>();
  var s4 = vec4<f32>();
  var s5 = vec4<f32>();
  var s6 = vec4<f32>();
  var s7 = vec4<f32>();
  for (var c = 0u; c < p.cols / 4u; c++) {
    let xc = x4[x0 + c];
    s0 += g4[a.x + c] * xc;
    s1 += g4[a.y + c] * xc;
    s2 += g4[a.z + c] * xc;
    s3 += g4[a.w + c] * xc;
    s4 += g4[b.x + c] * xc;
    s5 += g4[b.y + c] * xc;
    s6 += g4[b.z + c] * xc;
    s7 += g4[b.w + c] * xc;
  }
  let one = vec4<f32>(1.0);
  return EightRows(
    vec4<f32>(dot(s0, one), dot(s1, one), dot(s2, one), dot(s3, one)),
    vec4<f32>(dot(s4, one), dot(s5, one), dot(s6, one), dot(s7, one)),
  );
}

@compute @workgroup_size(DIRECT_GROUP)
fn matvec_direct4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let r0 = direct_first_row(gid, groups);
  if (r0 >= p.rows) {
    return;
  }
  store_eight(r0, direct4_rows(r0));
}

@compute @workgroup_size(DIRECT_GROUP)
fn matvec_direct4_dots(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let r0 = direct_first_row(gid, groups);
  if (r0 >= p.rows) {
    return;
  }
  store_eight_dots(r0, direct4_rows(r0));
}
