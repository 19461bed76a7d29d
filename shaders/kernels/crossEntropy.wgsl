// Per-row negative log-likelihood of a target class: nll[t] = logsumexp(logits[t, :]) − logits[t,
// target[t]], one workgroup per row. logsumexp is computed stably as m + log Σ exp(x − m) with m the
// row maximum (a first pass), so no exponent is positive. Each invocation sums a strided slice of
// the row, then the workgroup combines the partials pairwise: an element goes through at most
// ceil(vocab / GROUP) + log2(GROUP) additions. The wrapper sizes GROUP (a power of two ≤ 256) to
// about 16 logits per invocation: a small vocabulary (stories260K's 512) then runs 32-wide
// workgroups with 10 barriers per row instead of 256-wide ones with 18, most of whose invocations
// would have one or two logits — the barriers, not the logits, were the kernel's cost on
// SwiftShader.
//
// target = IGNORE (0xFFFFFFFF; the role of PyTorch's ignore_index, e.g. for padding) gives nll = 0;
// counting the rows that are not ignored is the caller's business. Any other target outside the
// vocabulary gives NaN, so the mistake shows instead of reading another row's logit.

struct Params {
  rows: u32,
  vocab: u32,
  ld: u32,
  off_logits: u32,
  off_targets: u32,
  off_nll: u32,
  nan_bits: u32,
}

override GROUP: u32 = 256u;
const IGNORE: u32 = 0xffffffffu;
const LOWEST: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> nll: array<f32>;

var<workgroup> partial: array<f32, GROUP>;
var<workgroup> row_target: u32;

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
  if (t == 0u) {
    row_target = targets[p.off_targets + row];
  }
  // A uniform copy, so the whole workgroup can leave early on an ignored row.
  let class_index = workgroupUniformLoad(&row_target);
  let out = p.off_nll + row;
  if (class_index == IGNORE) {
    if (t == 0u) {
      nll[out] = 0.0;
    }
    return;
  }
  if (class_index >= p.vocab) {
    if (t == 0u) {
      nll[out] = bitcast<f32>(p.nan_bits);
    }
    return;
  }

  let x0 = p.off_logits + row * p.ld;
  var m = LOWEST;
  for (var i = t; i < p.vocab; i += GROUP) {
    m = max(m, logits[x0 + i]);
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
  for (var i = t; i < p.vocab; i += GROUP) {
    sum += exp(logits[x0 + i] - row_max);
  }
  partial[t] = sum;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] = partial[t] + partial[t + stride];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    // (m − x_target) ≥ 0 and log Σ ≥ 0: adding them cannot cancel.
    nll[out] = (row_max - logits[x0 + class_index]) + log(partial[0]);
  }
}
