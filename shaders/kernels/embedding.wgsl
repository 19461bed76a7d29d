// Embedding lookup: out[t, c] = table[ids[t], c], or out[t, c] += table[ids[t], c] (ACCUMULATE) to
// add learned position embeddings, whose "ids" are the position numbers. One invocation per output
// element, so consecutive invocations copy consecutive elements of a table row.
//
// The table is bound as a window of vocabulary rows [first_row, first_row + rows): a table larger
// than one storage binding is swept by several dispatches, and each writes only the tokens whose id
// falls in its window. Ids at or past the vocabulary size are written as NaN by the dispatch of the
// first window, so a bad id is visible in the output instead of being read out of bounds.
//
// TABLE_TYPE says how the table is stored (0 f32, 1 f16, 2 bf16; see halfStorage.wgsl, which the
// wrapper puts in front of this file). off_table and ld_table count elements, not words.

struct Params {
  tokens: u32,
  cols: u32,
  ld_table: u32,
  ld_out: u32,
  off_ids: u32,
  off_table: u32,
  off_out: u32,
  first_row: u32,
  rows: u32,
  vocab: u32,
  // The bits of a quiet NaN, passed at run time: a NaN constant would be folded (and rejected).
  nan_bits: u32,
}

override ACCUMULATE: bool = false;
override TABLE_TYPE: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
// Read as words: f32 values are reinterpreted bit for bit, packed ones decoded.
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = gid.x + gid.y * groups.x * 256u;
  if (e >= p.tokens * p.cols) {
    return;
  }
  let t = e / p.cols;
  let c = e % p.cols;
  let id = ids[p.off_ids + t];
  let o = p.off_out + t * p.ld_out + c;
  if (id >= p.first_row && id - p.first_row < p.rows) {
    let value = table_element(p.off_table + (id - p.first_row) * p.ld_table + c);
    if (ACCUMULATE) {
      out[o] = out[o] + value;
    } else {
      out[o] = value;
    }
  } else if (p.first_row == 0u && id >= p.vocab) {
    out[o] = bitcast<f32>(p.nan_bits);
  }
}

fn table_element(e: u32) -> f32 {
  if (TABLE_TYPE == 0u) {
    return bitcast<f32>(table[e]);
  }
  return unpack_half(table[e >> 1u], (e & 1u) == 1u, TABLE_TYPE == 2u);
}
