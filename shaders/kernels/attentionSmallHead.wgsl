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
// The query and the accumulator are eight named vec4 registers (q0…q7, a0…a7), not arrays indexed
// in a loop over the head's dimensions: SwiftShader's compiler keeps such an array in memory and
// turns every access into per-lane loads and stores, which made the array version 2.6 times slower
// for 8-wide heads and 2 times for 32-wide ones (CPU time of the same dispatch, side by side;
// bench/README.md, "Issue 14: the evaluation's norm and attention on a CPU adapter"). VECS = ceil(HEAD_DIM / 4) of them are used; every `VECS > c` test is
// on constants, so the unused ones cost nothing once compiled, and the lanes of a head's last vec4
// past HEAD_DIM read as 0 (load_q, load_k, load_v), so they add nothing to a score or an output.
//
// HEAD_DIM is substituted by the wrapper (VECS and the loads' masks need it as a constant). Windows of
// a batched pass are seq_len tokens: query t sees keys t − t mod seq_len … t. q and out are
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
const VECS: u32 = (HEAD_DIM + 3u) / 4u;
const LOWEST: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Lane i of dimensions 4c … 4c + 3: whether it is one of the head's (the rest read as 0).
fn inside(c: u32, i: u32) -> bool {
  return 4u * c + i < HEAD_DIM;
}

// Dimensions 4c … 4c + 3 of the head at element `at`, one function per binding (WGSL cannot pass a
// storage array). A read past the binding's end is safe in WGSL and is discarded by the select.
fn load_q(at: u32, c: u32) -> vec4<f32> {
  let b = at + 4u * c;
  return vec4<f32>(
    select(0.0, q[b], inside(c, 0u)),
    select(0.0, q[b + 1u], inside(c, 1u)),
    select(0.0, q[b + 2u], inside(c, 2u)),
    select(0.0, q[b + 3u], inside(c, 3u)),
  );
}

fn load_k(at: u32, c: u32) -> vec4<f32> {
  let b = at + 4u * c;
  return vec4<f32>(
    select(0.0, k[b], inside(c, 0u)),
    select(0.0, k[b + 1u], inside(c, 1u)),
    select(0.0, k[b + 2u], inside(c, 2u)),
    select(0.0, k[b + 3u], inside(c, 3u)),
  );
}

fn load_v(at: u32, c: u32) -> vec4<f32> {
  let b = at + 4u * c;
  return vec4<f32>(
    select(0.0, v[b], inside(c, 0u)),
    select(0.0, v[b + 1u], inside(c, 1u)),
    select(0.0, v[b + 2u], inside(c, 2u)),
    select(0.0, v[b + 3u], inside(c, 3u)),
  );
}

fn store(at: u32, c: u32, x: vec4<f32>) {
  let b = at + 4u * c;
  for (var i = 0u; i < 4u; i++) {
    if (inside(c, i)) {
      out[b + i] = x[i];
    }
  }
}

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

  // The scale goes into the query once instead of into every score.
  let qa = p.off_q + row * p.ld_q + h * HEAD_DIM;
  let s = p.scale;
  let q0 = load_q(qa, 0u) * s;
  var q1 = vec4<f32>();
  var q2 = vec4<f32>();
  var q3 = vec4<f32>();
  var q4 = vec4<f32>();
  var q5 = vec4<f32>();
  var q6 = vec4<f32>();
  var q7 = vec4<f32>();
  if (VECS > 1u) { q1 = load_q(qa, 1u) * s; }
  if (VECS > 2u) { q2 = load_q(qa, 2u) * s; }
  if (VECS > 3u) { q3 = load_q(qa, 3u) * s; }
  if (VECS > 4u) { q4 = load_q(qa, 4u) * s; }
  if (VECS > 5u) { q5 = load_q(qa, 5u) * s; }
  if (VECS > 6u) { q6 = load_q(qa, 6u) * s; }
  if (VECS > 7u) { q7 = load_q(qa, 7u) * s; }
  var a0 = vec4<f32>();
  var a1 = vec4<f32>();
  var a2 = vec4<f32>();
  var a3 = vec4<f32>();
  var a4 = vec4<f32>();
  var a5 = vec4<f32>();
  var a6 = vec4<f32>();
  var a7 = vec4<f32>();
  var m = LOWEST;
  var l = 0.0;
  var ka = p.off_k + first * p.ld_k + kv * HEAD_DIM;
  var va = p.off_v + first * p.ld_v + kv * HEAD_DIM;
  for (var j = first; j <= t; j++) {
    var score = dot(q0, load_k(ka, 0u));
    if (VECS > 1u) { score += dot(q1, load_k(ka, 1u)); }
    if (VECS > 2u) { score += dot(q2, load_k(ka, 2u)); }
    if (VECS > 3u) { score += dot(q3, load_k(ka, 3u)); }
    if (VECS > 4u) { score += dot(q4, load_k(ka, 4u)); }
    if (VECS > 5u) { score += dot(q5, load_k(ka, 5u)); }
    if (VECS > 6u) { score += dot(q6, load_k(ka, 6u)); }
    if (VECS > 7u) { score += dot(q7, load_k(ka, 7u)); }
    if (score > m) {
      // The first key finds l = 0 and the accumulator 0, so the rescale (0 there) changes nothing.
      let rescale = exp(m - score);
      l *= rescale;
      a0 *= rescale;
      a1 *= rescale;
      a2 *= rescale;
      a3 *= rescale;
      a4 *= rescale;
      a5 *= rescale;
      a6 *= rescale;
      a7 *= rescale;
      m = score;
    }
    let weight = exp(score - m);
    l += weight;
    a0 += weight * load_v(va, 0u);
    if (VECS > 1u) { a1 += weight * load_v(va, 1u); }
    if (VECS > 2u) { a2 += weight * load_v(va, 2u); }
    if (VECS > 3u) { a3 += weight * load_v(va, 3u); }
    if (VECS > 4u) { a4 += weight * load_v(va, 4u); }
    if (VECS > 5u) { a5 += weight * load_v(va, 5u); }
    if (VECS > 6u) { a6 += weight * load_v(va, 6u); }
    if (VECS > 7u) { a7 += weight * load_v(va, 7u); }
    ka += p.ld_k;
    va += p.ld_v;
  }
  let oa = p.off_out + row * p.ld_out + h * HEAD_DIM;
  store(oa, 0u, a0 / l);
  if (VECS > 1u) { store(oa, 1u, a1 / l); }
  if (VECS > 2u) { store(oa, 2u, a2 / l); }
  if (VECS > 3u) { store(oa, 3u, a3 / l); }
  if (VECS > 4u) { store(oa, 4u, a4 / l); }
  if (VECS > 5u) { store(oa, 5u, a5 / l); }
  if (VECS > 6u) { store(oa, 6u, a6 / l); }
  if (VECS > 7u) { store(oa, 7u, a7 / l); }
}
