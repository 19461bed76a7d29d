// Backward of LayerNorm and RMSNorm (norm.wgsl). With x̂ = (x − μ)·r (μ = 0 for RMSNorm),
// r = 1/sqrt(var + eps) (the mean square for RMSNorm), y = x̂·g (+ b) and gdy = g ⊙ dy:
//   LayerNorm: dx = r · (gdy − mean(gdy) − x̂ · mean(gdy ⊙ x̂))
//   RMSNorm:   dx = r · (gdy − x̂ · mean(gdy ⊙ x̂))
//   dg = Σ_tokens dy ⊙ x̂,   db = Σ_tokens dy
//
// row_backward, one workgroup per row: recomputes μ and r exactly as the forward does (two passes,
// never E[x²] − E[x]²), reduces the two means over the row, and adds dx into the gradient buffer
// (ACCUMULATE; the residual stream's gradient is a sum of the paths through the block). It saves
// (μ, r) per row for gain_partials, which sums dy ⊙ x̂ and dy over chunks of rows with one
// invocation per (chunk, column), in row order: deterministic, no float atomics. columnSum.wgsl
// then adds the chunk sums into dg and db.

struct Params {
  rows: u32,
  width: u32,
  ld_x: u32,
  ld_dy: u32,
  ld_dx: u32,
  off_x: u32,
  off_dy: u32,
  off_dx: u32,
  off_g: u32,
  off_stats: u32,
  eps: f32,
  // gain_partials: rows per chunk, chunks in this window, 64-wide column groups.
  chunk: u32,
  chunks: u32,
  col_groups: u32,
  off_partials: u32,
}

override GROUP: u32 = 256u;
override LAYER: bool = true;
override ACCUMULATE: bool = true;

@group(0) @binding(0) var<uniform> p: Params;

var<workgroup> partial: array<vec2<f32>, GROUP>;

// Must be called from uniform control flow by every invocation of the workgroup.
fn workgroup_sum(t: u32, value: vec2<f32>) -> vec2<f32> {
  partial[t] = value;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] = partial[t] + partial[t + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@group(0) @binding(1) var<storage, read> row_x: array<f32>;
@group(0) @binding(2) var<storage, read> row_g: array<f32>;
@group(0) @binding(3) var<storage, read> row_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> row_stats: array<f32>;

@compute @workgroup_size(GROUP)
fn row_backward(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= p.rows) {
    return;
  }
  let x0 = p.off_x + row * p.ld_x;
  let dy0 = p.off_dy + row * p.ld_dy;
  let n = f32(p.width);
  var mean = 0.0;
  if (LAYER) {
    var sum = 0.0;
    for (var i = t; i < p.width; i += GROUP) {
      sum += row_x[x0 + i];
    }
    mean = workgroup_sum(t, vec2<f32>(sum, 0.0)).x / n;
  }
  var squares = 0.0;
  for (var i = t; i < p.width; i += GROUP) {
    let d = row_x[x0 + i] - mean;
    squares += d * d;
  }
  let r = 1.0 / sqrt(workgroup_sum(t, vec2<f32>(squares, 0.0)).x / n + p.eps);
  // (Σ gdy, Σ gdy ⊙ x̂) over the row.
  var sums = vec2<f32>(0.0);
  for (var i = t; i < p.width; i += GROUP) {
    let gdy = row_g[p.off_g + i] * row_dy[dy0 + i];
    sums += vec2<f32>(gdy, gdy * ((row_x[x0 + i] - mean) * r));
  }
  let means = workgroup_sum(t, sums) / n;
  let mean_gdy = select(0.0, means.x, LAYER);
  let dx0 = p.off_dx + row * p.ld_dx;
  for (var i = t; i < p.width; i += GROUP) {
    let gdy = row_g[p.off_g + i] * row_dy[dy0 + i];
    let xhat = (row_x[x0 + i] - mean) * r;
    let value = r * ((gdy - mean_gdy) - xhat * means.y);
    if (ACCUMULATE) {
      row_dx[dx0 + i] = row_dx[dx0 + i] + value;
    } else {
      row_dx[dx0 + i] = value;
    }
  }
  if (t == 0u) {
    row_stats[p.off_stats + 2u * row] = mean;
    row_stats[p.off_stats + 2u * row + 1u] = r;
  }
}

@group(0) @binding(1) var<storage, read> gain_x: array<f32>;
@group(0) @binding(2) var<storage, read> gain_dy: array<f32>;
@group(0) @binding(3) var<storage, read> gain_stats: array<f32>;
// Chunk sums (chunks × width, packed) of dy ⊙ x̂ and, for LayerNorm, of dy.
@group(0) @binding(4) var<storage, read_write> gain_partials_g: array<f32>;
@group(0) @binding(5) var<storage, read_write> gain_partials_b: array<f32>;

// (Σ dy ⊙ x̂, Σ dy) over the rows of chunk k in column c.
fn chunk_sums(k: u32, c: u32) -> vec2<f32> {
  let r0 = k * p.chunk;
  let r1 = min(p.rows, r0 + p.chunk);
  var sums = vec2<f32>(0.0);
  for (var r = r0; r < r1; r++) {
    let dy = gain_dy[p.off_dy + r * p.ld_dy + c];
    let mean = gain_stats[p.off_stats + 2u * r];
    let rstd = gain_stats[p.off_stats + 2u * r + 1u];
    sums += vec2<f32>(dy * ((gain_x[p.off_x + r * p.ld_x + c] - mean) * rstd), dy);
  }
  return sums;
}

// The (chunk, column) of an invocation, or (chunks, 0) when it has none.
fn chunk_column(wg: vec3<u32>, groups: vec3<u32>, lane: u32) -> vec2<u32> {
  let w = wg.x + wg.y * groups.x;
  let k = w / p.col_groups;
  let c = (w % p.col_groups) * 64u + lane;
  if (k >= p.chunks || c >= p.width) {
    return vec2<u32>(p.chunks, 0u);
  }
  return vec2<u32>(k, c);
}

@compute @workgroup_size(64)
fn gain_partials_layer(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let kc = chunk_column(wg, groups, lane);
  if (kc.x < p.chunks) {
    let sums = chunk_sums(kc.x, kc.y);
    let o = p.off_partials + kc.x * p.width + kc.y;
    gain_partials_g[o] = sums.x;
    gain_partials_b[o] = sums.y;
  }
}

@compute @workgroup_size(64)
fn gain_partials_rms(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let kc = chunk_column(wg, groups, lane);
  if (kc.x < p.chunks) {
    gain_partials_g[p.off_partials + kc.x * p.width + kc.y] = chunk_sums(kc.x, kc.y).x;
  }
}
