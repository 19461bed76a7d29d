// Backward of the embedding lookup (embedding.wgsl): dTable[id, c] += Σ_{t : ids[t] = id} dOut[t, c].
// Several tokens share an id, so a scatter-add would need float atomics and would sum in a
// different order on every run. Instead the host sorts the window's tokens by id (it wrote the ids,
// so it has them) into segments: the distinct ids, where each id's tokens start in `order`, and the
// token indices in order of id (ties by position). One invocation per (segment, column) sums its
// segment's rows in token order and adds the sum into the table once, so every element of dTable
// is written by one invocation and the result is the same on every run. Work is O(tokens · width),
// independent of the vocabulary; rows of ids that do not occur are not touched.
//
// index holds [segment ids | segment starts (segments + 1) | order], at the bases in Params.

struct Params {
  // Segments in this dispatch, from first_segment.
  segments: u32,
  first_segment: u32,
  cols: u32,
  ld_out: u32,
  off_out: u32,
  off_table: u32,
  // The vocabulary row at off_table, and the table's row stride.
  first_row: u32,
  ld_table: u32,
  col_groups: u32,
  ids_base: u32,
  starts_base: u32,
  order_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read> d_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_table: array<f32>;

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let w = wg.x + wg.y * groups.x;
  let s = w / p.col_groups;
  let c = (w % p.col_groups) * 64u + lane;
  if (s >= p.segments || c >= p.cols) {
    return;
  }
  let segment = p.first_segment + s;
  let id = index[p.ids_base + segment];
  let begin = index[p.starts_base + segment];
  let end = index[p.starts_base + segment + 1u];
  var sum = 0.0;
  for (var i = begin; i < end; i++) {
    sum += d_out[p.off_out + index[p.order_base + i] * p.ld_out + c];
  }
  let o = p.off_table + (id - p.first_row) * p.ld_table + c;
  d_table[o] = d_table[o] + sum;
}
