// Adapprox's whole step of small parameters, but their S-RSI, in ONE dispatch of one workgroup per
// parameter (train/optim/adapproxStep.ts says when and why): the passes of adapprox.wgsl (second
// moment with the history Q·Uᵀ formed in place, max V, Σ Û² for the clipping, the first moment, the
// cosine guidance, the weight update, and Σ (V / max V)² for the S-RSI's error identity) as sweeps
// of the same STEP_GROUP invocations over the parameter. Each invocation visits the same elements in
// every sweep (step_span), so a sweep reads what the same invocation wrote in the previous one
// without a barrier; the per-parameter sums meet in workgroup memory (step_fold).
// The scalar slots it leaves (from `slot`) are those of the multi-pass path, which the S-RSI and
// the step's read-back read: Σ Û² at +0, ⟨M, Û⟩ at +1, Σ M² at +2, max V at +3, Σ (V / max V)²
// at +4, the clamped-history count (u32) at +5; and at +6 the count of G's NaN and infinite
// entries (f32), which the host checks before it keeps any of the step's results.
//
// Each parameter's G, W, M, V, Q and U are copied by the host into one arena (`ar`), where its
// entry of the table says they start; the host copies a factored matrix's V back out after the
// dispatch (its S-RSI reads it), and W, M and a dense V once the step's read-back has shown the
// gradients finite.
// The uniform block, shared by the dispatch's parameters: first = the table's first word, count =
// the parameters, momentum = 1 with a first moment, guidance = the mode (0 off, 1 half, 2
// positive), one_minus_beta2 = 1 − β2, eps1 = ε1, eps = ε, d = the clip threshold, beta1 = β1, lr
// = η, weight_decay = λ. A parameter's entry (StepJob): n elements, `cols` their row length, its
// scalar slot, k (0: no history), stride = the row stride of Q and U, q_rows = 1 when Q holds the
// rows, dense = 1 when V is the dense EMA (the parameter's state) rather than the history of a
// factored one, beta2 = β2 (0 without history) and inv_count = 1/N as f32 bits, then where its G,
// W, M, V, Q and U start in the arena.

// Invocations, chosen by the host (adapproxStep.ts stepGroup): few on a CPU adapter (a barrier
// costs per SIMD group there), 256 on a GPU. At most 256 (step_values).
override STEP_GROUP: u32 = 256u;

struct StepParams {
  first: u32,
  count: u32,
  momentum: u32,
  guidance: u32,
  one_minus_beta2: f32,
  eps1: f32,
  eps: f32,
  d: f32,
  beta1: f32,
  one_minus_beta1: f32,
  lr: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<uniform> sp: StepParams;

@group(0) @binding(1) var<storage, read_write> ar: array<f32>;
@group(0) @binding(2) var<storage, read_write> st_s: array<f32>;
@group(0) @binding(3) var<storage, read> st_table: array<u32>;

// STEP_TABLE_WORDS words per parameter: StepJob's fields in order (beta2 and inv_count as f32 bits).
const STEP_TABLE_WORDS: u32 = 15u;

// One parameter's entry. Passed by value from the entry point, so that loops over its fields stay
// uniform.
struct StepJob {
  n: u32,
  cols: u32,
  slot: u32,
  k: u32,
  stride: u32,
  q_rows: u32,
  dense: u32,
  beta2: f32,
  inv_count: f32,
  g0: u32,
  w0: u32,
  m0: u32,
  v0: u32,
  q0: u32,
  u0: u32,
}

var<workgroup> step_values: array<vec4<f32>, 256>;

// The workgroup's combination of every invocation's x: sums in x, z, w and the maximum in y. Every
// invocation adds the values in the same order, so all hold the same total. Uniform control flow.
fn step_fold(t: u32, x: vec4<f32>) -> vec4<f32> {
  step_values[t] = x;
  workgroupBarrier();
  var total = vec4<f32>(0.0);
  for (var k = 0u; k < STEP_GROUP; k++) {
    let y = step_values[k];
    total = vec4<f32>(total.x + y.x, max(total.y, y.y), total.z + y.z, total.w + y.w);
  }
  workgroupBarrier();
  return total;
}

// W ← W − η·(D + λ·W).
fn step_weight(job: StepJob, e: u32, d: f32) {
  let w = ar[job.w0 + e];
  ar[job.w0 + e] = w - sp.lr * (d + sp.weight_decay * w);
}

// Which elements invocation t visits, the same in every sweep: rows in blocks of 8, block
// b ≡ band (mod bands), and in each of their rows the columns c ≡ lane (mod width). Consecutive
// invocations take consecutive columns of one row, so on a CPU driver's 4-lane SIMD groups
// (SwiftShader) G, V, M and W are read at consecutive addresses and the history's row factor at
// equal ones; the first sweep takes an invocation's columns 8 at a time, so that each load of the
// history's factors serves 8 products (step_history). No element index is divided (a scalar divide per lane on a CPU driver). When a row
// is shorter than the workgroup, the workgroup splits into `bands` groups of rows, each as wide as
// a row (the invocations left over idle).
struct StepSpan {
  band: u32,
  bands: u32,
  lane: u32,
  width: u32,
}

fn step_span(job: StepJob, t: u32) -> StepSpan {
  let width = clamp(job.cols, 1u, STEP_GROUP);
  let bands = STEP_GROUP / width;
  return StepSpan(t / width, bands, t % width, width);
}

// The history entries of the block's 8 rows r0…r0 + 7 (clamped to the last row, `last`) and 8 of
// their columns ca, cb (the caller clamps them and drops what is past either end): h[j][i] =
// Σ_c A[r0 + i, c]·B[col_j, c] for rows i < 4, h[8 + j][i − 4] for the other 4, with A the factor on
// the rows' side and col_j the j-th of ca, cb. Each step along c loads the 8 rows' and the 8
// columns' factor entries once and uses each 8 times (64 multiply-adds for 16 loads; the 4 × 4
// tiles before took 8 for 16): on a CPU driver a load at a run-time address is a lane-by-lane
// gather and costs far more than the arithmetic. Every entry is still summed serially over c.
fn step_history(job: StepJob, r0: u32, last: u32, ca: vec4<u32>, cb: vec4<u32>) -> array<vec4<f32>, 16> {
  // The factor on the rows' side and the one on the columns' side, where they start in the arena.
  let rows0 = select(job.u0, job.q0, job.q_rows == 1u);
  let cols0 = select(job.q0, job.u0, job.q_rows == 1u);
  let ra = vec4<u32>(rows0) + clamp4(r0, last) * job.stride;
  let rb = vec4<u32>(rows0) + clamp4(r0 + 4u, last) * job.stride;
  let ba = vec4<u32>(cols0) + ca * job.stride;
  let bb = vec4<u32>(cols0) + cb * job.stride;
  var h = array<vec4<f32>, 16>();
  for (var c = 0u; c < job.k; c++) {
    block_step(
      &h,
      vec4<f32>(ar[ra.x + c], ar[ra.y + c], ar[ra.z + c], ar[ra.w + c]),
      vec4<f32>(ar[rb.x + c], ar[rb.y + c], ar[rb.z + c], ar[rb.w + c]),
      vec4<f32>(ar[ba.x + c], ar[ba.y + c], ar[ba.z + c], ar[ba.w + c]),
      vec4<f32>(ar[bb.x + c], ar[bb.y + c], ar[bb.z + c], ar[bb.w + c]),
    );
  }
  return h;
}

// The first sweep's work on element e with history entry h: V into the arena, and `first`'s Σ Û²
// (x), max V (y), clamped-history count (z) and non-finite gradient count (w) updated.
fn step_moment(job: StepJob, e: u32, h_in: f32, history: bool, first: vec4<f32>) -> vec4<f32> {
  var acc = first;
  var h = h_in;
  if (job.dense == 1u) {
    h = ar[job.v0 + e];
  } else if (history && h < 0.0) {
    acc.z += 1.0;
  }
  let g = ar[job.g0 + e];
  // NaN or ±∞: every exponent bit set (a comparison may be folded away by a compiler).
  if ((bitcast<u32>(g) & 0x7f800000u) == 0x7f800000u) {
    acc.w += 1.0;
  }
  let v = job.beta2 * max(h, 0.0) + sp.one_minus_beta2 * (g * g + sp.eps1);
  ar[job.v0 + e] = v;
  let u = g / (sqrt(v) + sp.eps);
  acc.x += u * u;
  acc.y = max(acc.y, v);
  return acc;
}

@compute @workgroup_size(STEP_GROUP)
fn fused_step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  if (wg.x >= sp.count) {
    return;
  }
  let b0 = sp.first + wg.x * STEP_TABLE_WORDS;
  let job = StepJob(
    st_table[b0],
    st_table[b0 + 1u],
    st_table[b0 + 2u],
    st_table[b0 + 3u],
    st_table[b0 + 4u],
    st_table[b0 + 5u],
    st_table[b0 + 6u],
    bitcast<f32>(st_table[b0 + 7u]),
    bitcast<f32>(st_table[b0 + 8u]),
    st_table[b0 + 9u],
    st_table[b0 + 10u],
    st_table[b0 + 11u],
    st_table[b0 + 12u],
    st_table[b0 + 13u],
    st_table[b0 + 14u],
  );
  let span = step_span(job, t);
  let rows = job.n / job.cols;
  let owns = span.band < span.bands;
  let history = job.dense == 0u && job.k > 0u;
  // V, and Σ Û² (x), max V (y), the clamped history entries (z), G's non-finite entries (w).
  var first = vec4<f32>(0.0);
  // The rows 8 at a time and the columns 8 at a time (lane, lane + width, …, lane + 7·width), so
  // that the history's loads serve an 8 × 8 tile; the same elements per invocation as the sweeps
  // below (rows in blocks of 8, columns ≡ lane mod width).
  let stride8 = 8u * span.width;
  let last_col = job.cols - 1u;
  for (var r0 = 8u * span.band; owns && r0 < rows; r0 += 8u * span.bands) {
    for (var col = span.lane; col < job.cols; col += stride8) {
      let wd = span.width;
      let ca = vec4<u32>(col, min(col + wd, last_col), min(col + 2u * wd, last_col), min(col + 3u * wd, last_col));
      let cb = vec4<u32>(
        min(col + 4u * wd, last_col),
        min(col + 5u * wd, last_col),
        min(col + 6u * wd, last_col),
        min(col + 7u * wd, last_col),
      );
      var hs = array<vec4<f32>, 16>();
      if (history) {
        hs = step_history(job, r0, rows - 1u, ca, cb);
      }
      for (var i = 0u; i < 8u && r0 + i < rows; i++) {
        let row = (r0 + i) * job.cols;
        // Rows 4…7 of the tile are in hs[8…15].
        let part = select(0u, 8u, i >= 4u);
        let ri = i - select(0u, 4u, i >= 4u);
        for (var j = 0u; j < 8u && col + j * wd < job.cols; j++) {
          first = step_moment(job, row + col + j * wd, hs[part + j][ri], history, first);
        }
      }
    }
  }
  let a = step_fold(t, first);
  let clip = 1.0 / max(1.0, sqrt(a.x * job.inv_count) / sp.d);
  let top = a.y;
  let inv = select(0.0, 1.0 / top, top > 0.0);
  let momentum = sp.momentum == 1u;
  let guided = momentum && sp.guidance != 0u;
  // M and W (unless guided), and Σ (V / max V)² (x), ⟨M, Û⟩ with Û unclipped (z), Σ M² (w).
  var second = vec4<f32>(0.0);
  for (var r0 = 8u * span.band; owns && r0 < rows; r0 += 8u * span.bands) {
    for (var col = span.lane; col < job.cols; col += span.width) {
      for (var i = 0u; i < 8u && r0 + i < rows; i++) {
        let e = (r0 + i) * job.cols + col;
        let v = ar[job.v0 + e];
        let x = v * inv;
        second.x += x * x;
        let raw = ar[job.g0 + e] / (sqrt(v) + sp.eps);
        if (momentum) {
          let m = sp.beta1 * ar[job.m0 + e] + sp.one_minus_beta1 * clip * raw;
          ar[job.m0 + e] = m;
          if (guided) {
            second.z += m * raw;
            second.w += m * m;
          } else {
            step_weight(job, e, m);
          }
        } else {
          step_weight(job, e, clip * raw);
        }
      }
    }
  }
  let b = step_fold(t, second);
  if (guided) {
    // The guidance factor of adapprox.wgsl's `guidance`, from the sums just taken.
    let c = clip * b.z / (sqrt(b.w) * clip * sqrt(a.x) + 1e-12);
    let s = select(max(c, 0.0), 0.5 * (1.0 + c), sp.guidance == 1u);
    for (var r0 = 8u * span.band; owns && r0 < rows; r0 += 8u * span.bands) {
      for (var col = span.lane; col < job.cols; col += span.width) {
        for (var i = 0u; i < 8u && r0 + i < rows; i++) {
          let e = (r0 + i) * job.cols + col;
          step_weight(job, e, s * ar[job.m0 + e]);
        }
      }
    }
  }
  if (t == 0u) {
    st_s[job.slot] = a.x;
    st_s[job.slot + 1u] = b.z;
    st_s[job.slot + 2u] = b.w;
    st_s[job.slot + 3u] = top;
    st_s[job.slot + 4u] = b.x;
    st_s[job.slot + 5u] = bitcast<f32>(u32(a.z));
    st_s[job.slot + 6u] = a.w;
  }
}
