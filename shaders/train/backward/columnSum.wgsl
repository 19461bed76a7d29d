// Column sums of a rows × cols matrix, in chunks of rows: out[k, c] = Σ_{r in chunk k} x[r, c]
// (or out[k, c] += that, ACCUMULATE). The gradient of a bias (and of a norm's gain, see
// normBackward.wgsl) is such a sum over the tokens; a second pass over the chunk sums finishes it.
// One invocation per (chunk, column) adds its chunk's rows serially in row order, so the result is
// the same on every run (no float atomics) and neighbouring invocations read neighbouring
// addresses. With chunks of about √rows rows, an element goes through about 2√rows additions over
// the two passes.

struct Params {
  rows: u32,
  cols: u32,
  ld_x: u32,
  ld_out: u32,
  off_x: u32,
  off_out: u32,
  // Rows per chunk, chunks (= ceil(rows / chunk)), and 64-wide column groups (= ceil(cols / 64)).
  chunk: u32,
  chunks: u32,
  col_groups: u32,
}

override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let w = wg.x + wg.y * groups.x;
  let k = w / p.col_groups;
  let c = (w % p.col_groups) * 64u + lane;
  if (k >= p.chunks || c >= p.cols) {
    return;
  }
  let r0 = k * p.chunk;
  let r1 = min(p.rows, r0 + p.chunk);
  var sum = 0.0;
  for (var r = r0; r < r1; r++) {
    sum += x[p.off_x + r * p.ld_x + c];
  }
  let o = p.off_out + k * p.ld_out + c;
  if (ACCUMULATE) {
    out[o] = out[o] + sum;
  } else {
    out[o] = sum;
  }
}
