// Causal scaled-dot-product attention with grouped-query heads, without a T × T score matrix:
//   out[t, h, :] = Σ_{j ≤ t} softmax_j(scale · q[t, h, :] · k[j, g(h), :]) · v[j, g(h), :],
// g(h) = floor(h / group). One workgroup per (query, head) walks the keys in chunks of 64 with the
// online softmax of Milakov & Gimelshein (2018), as FlashAttention does: a running maximum m and
// normaliser l, and an accumulator rescaled by exp(m_old − m_new) whenever the maximum grows, so no
// exponent is ever positive and nothing overflows.
//
// Per chunk, the 256 invocations score 64 keys with 4 lanes each (lane r sums the dimensions
// d ≡ r mod 4), the scores go through workgroup memory, and invocation (d, g) of the
// floor(256 / head_dim) key groups accumulates Σ p_j · v[j, d] over the chunk's keys j ≡ g. The key
// groups are summed at the end.
//
// Keys are bound as a window [key_begin, key_end). When k and v do not fit one binding, the
// wrapper sweeps the keys in several dispatches: a query's state (m, l) is kept in `state` and its
// unnormalised accumulator in `out` between them, and the dispatch whose window holds the query's
// own (last) key divides by l.
//
// A batched pass stacks windows of seq_len tokens: token t belongs to the window starting at
// s = t − t mod seq_len and sees keys s..t only, so the windows never attend to each other.
// first_token is the position of the block's first query, not its row: generation with a KV cache
// (attention.ts, queryStart) binds one new query row at position p against keys 0..p.

struct Params {
  tokens: u32,
  heads: u32,
  head_dim: u32,
  group: u32,
  first_token: u32,
  first_head: u32,
  first_kv_head: u32,
  key_begin: u32,
  key_end: u32,
  ld_q: u32,
  ld_k: u32,
  ld_v: u32,
  ld_out: u32,
  ld_state: u32,
  off_q: u32,
  off_k: u32,
  off_v: u32,
  off_out: u32,
  off_state: u32,
  seq_len: u32,
  scale: f32,
}

const GROUP: u32 = 256u;
const CHUNK: u32 = 64u;
const LANES: u32 = 4u; // GROUP / CHUNK
// Below every score; a finite stand-in for −∞ (WGSL lets implementations assume no infinities).
const LOWEST: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<f32>;

var<workgroup> q_row: array<f32, 256>;
var<workgroup> partial: array<f32, 256>;
var<workgroup> weights: array<f32, 64>;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let linear = wg.x + wg.y * groups.x;
  if (linear >= p.tokens * p.heads) {
    return;
  }
  let local_t = linear / p.heads;
  let local_h = linear % p.heads;
  let t = p.first_token + local_t;
  // Causal within its window: this query sees keys first..t, so a key window outside them has
  // nothing for it.
  let first = t - t % p.seq_len;
  let begin = max(p.key_begin, first);
  let end = min(p.key_end, t + 1u);
  if (end <= begin) {
    return;
  }
  let dim = p.head_dim;
  let h = p.first_head + local_h;
  let kv = h / p.group - p.first_kv_head;
  let q0 = p.off_q + local_t * p.ld_q + local_h * dim;
  let o0 = p.off_out + local_t * p.ld_out + local_h * dim;
  let s0 = p.off_state + local_t * p.ld_state + local_h * 2u;
  let k0 = p.off_k + kv * dim;
  let v0 = p.off_v + kv * dim;

  if (lid < dim) {
    q_row[lid] = q[q0 + lid];
  }
  let key_groups = GROUP / dim;
  let d = lid % dim;
  let g = lid / dim;
  var m = LOWEST;
  var l = 0.0;
  var acc = 0.0;
  // An earlier dispatch has seen this query's keys first..key_begin − 1.
  if (p.key_begin > first) {
    m = state[s0];
    l = state[s0 + 1u];
    if (g == 0u) {
      acc = out[o0 + d];
    }
  }
  workgroupBarrier();

  let key = lid / LANES;
  let lane = lid % LANES;
  for (var j0 = begin; j0 < end; j0 += CHUNK) {
    let count = min(CHUNK, end - j0);
    var dot = 0.0;
    if (key < count) {
      let row = k0 + (j0 - p.key_begin + key) * p.ld_k;
      for (var i = lane; i < dim; i += LANES) {
        dot += q_row[i] * k[row + i];
      }
    }
    partial[lid] = dot;
    workgroupBarrier();
    if (lid < count) {
      let b = lid * LANES;
      weights[lid] = ((partial[b] + partial[b + 1u]) + (partial[b + 2u] + partial[b + 3u])) * p.scale;
    }
    workgroupBarrier();
    var chunk_max = weights[0];
    for (var j = 1u; j < count; j++) {
      chunk_max = max(chunk_max, weights[j]);
    }
    let m_new = max(m, chunk_max);
    // l = 0 means nothing is accumulated yet (after any key l ≥ exp(0) = 1).
    let rescale = select(exp(m - m_new), 0.0, l == 0.0);
    // Everyone has read the scores before they are overwritten by their weights.
    workgroupBarrier();
    if (lid < count) {
      weights[lid] = exp(weights[lid] - m_new);
    }
    workgroupBarrier();
    var chunk_sum = 0.0;
    for (var j = 0u; j < count; j++) {
      chunk_sum += weights[j];
    }
    l = l * rescale + chunk_sum;
    if (g < key_groups) {
      var part = 0.0;
      for (var j = g; j < count; j += key_groups) {
        part += weights[j] * v[v0 + (j0 - p.key_begin + j) * p.ld_v + d];
      }
      acc = acc * rescale + part;
    }
    m = m_new;
  }

  partial[lid] = select(0.0, acc, g < key_groups);
  workgroupBarrier();
  if (lid < dim) {
    var total = 0.0;
    for (var gg = 0u; gg < key_groups; gg++) {
      total += partial[gg * dim + lid];
    }
    if (t < p.key_end) {
      out[o0 + lid] = total / l;
    } else {
      out[o0 + lid] = total;
      if (lid == 0u) {
        state[s0] = m;
        state[s0 + 1u] = l;
      }
    }
  }
}
