// Causal scaled-dot-product attention for heads of at most 32 dimensions, one invocation per
// (query, head) and no workgroup memory: the query, the running maximum m, the normaliser l and the
// output accumulator live in registers, and the invocation walks its keys one at a time with the
// online softmax (Milakov & Gimelshein 2018): when a score raises the maximum, l and the
// accumulator are rescaled by exp(m_old − m_new), so no exponent is ever positive.
//
// Why a third attention kernel: with small heads (stories260K's are 8 wide) the other two spend
// their time on coordination, not arithmetic — the online kernel's 256-invocation workgroups sync
// at four barriers per 64 keys, and the materialised scores run two matrix products per head whose
// 64 × 64 tiles are mostly padding at k = 8 or n = 8. Here every multiply-add is useful work.
//
// HEAD_DIM is substituted by the wrapper (function-scope arrays need a constant size). Windows of a
// batched pass are seq_len tokens: query t sees keys t − t mod seq_len … t. q and out are
// [tokens, heads, HEAD_DIM], k and v [tokens, kv heads, HEAD_DIM], each with a leading dimension and
// an offset, so they can be column blocks of one fused buffer. Grouped-query: head h reads kv head
// floor(h / group). With a KV cache (attention.ts, queryStart) query row t sits at position
// query_start + t and k, v hold every position so far, seq_len then covering them all.

struct Params {
  tokens: u32,
  heads: u32,
  group: u32,
  seq_len: u32,
  ld_q: u32,
  ld_k: u32,
  ld_v: u32,
  ld_out: u32,
  off_q: u32,
  off_k: u32,
  off_v: u32,
  off_out: u32,
  query_start: u32,
  scale: f32,
}

const HEAD_DIM: u32 = 0u; // replaced by the wrapper
const LOWEST: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = gid.x + gid.y * groups.x * 64u;
  if (e >= p.tokens * p.heads) {
    return;
  }
  let row = e / p.heads;
  let h = e % p.heads;
  let kv = h / p.group;
  let t = p.query_start + row;
  let first = t - t % p.seq_len;

  var query: array<f32, HEAD_DIM>;
  var acc: array<f32, HEAD_DIM>;
  let q0 = p.off_q + row * p.ld_q + h * HEAD_DIM;
  for (var d = 0u; d < HEAD_DIM; d++) {
    query[d] = q[q0 + d];
    acc[d] = 0.0;
  }
  var m = LOWEST;
  var l = 0.0;
  for (var j = first; j <= t; j++) {
    let k0 = p.off_k + j * p.ld_k + kv * HEAD_DIM;
    var dot = 0.0;
    for (var d = 0u; d < HEAD_DIM; d++) {
      dot = fma(query[d], k[k0 + d], dot);
    }
    let s = dot * p.scale;
    if (s > m) {
      // The first key finds l = 0 and acc = 0, so the rescale (0 there) changes nothing.
      let rescale = exp(m - s);
      l *= rescale;
      for (var d = 0u; d < HEAD_DIM; d++) {
        acc[d] *= rescale;
      }
      m = s;
    }
    let weight = exp(s - m);
    l += weight;
    let v0 = p.off_v + j * p.ld_v + kv * HEAD_DIM;
    for (var d = 0u; d < HEAD_DIM; d++) {
      acc[d] = fma(weight, v[v0 + d], acc[d]);
    }
  }
  let o0 = p.off_out + row * p.ld_out + h * HEAD_DIM;
  for (var d = 0u; d < HEAD_DIM; d++) {
    out[o0 + d] = acc[d] / l;
  }
}
