// The softmax step of attention's backward pass, for the materialised-scores path
// (kernels/attentionScores.ts). With P = softmax(scale · S) saved by the forward and dP = dO · Vᵀ,
// the gradient of the scores is
//   dS = scale · P ⊙ (dP − rowsum(dP ⊙ P)),
// written over dP, one workgroup per row. Row r of the window is query first_row + r; with causal
// masking it sees keys 0..first_row + r, and the columns past that get 0 (P is 0 there, but dP is
// not, and 0 · (dP − Σ) is only 0 when dP is finite). The row sum is combined pairwise over the
// workgroup (GROUP, a power of two ≤ 64 sized by the wrapper), so an element goes through at most
// ceil(cols / GROUP) + log2(GROUP) additions.

struct Params {
  rows: u32,
  cols: u32,
  ld_p: u32,
  ld_d: u32,
  off_p: u32,
  off_d: u32,
  first_row: u32,
  causal: u32,
  scale: f32,
}

override GROUP: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;

var<workgroup> partial: array<f32, GROUP>;

@compute @workgroup_size(GROUP)
fn softmax_backward(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= p.rows) {
    return;
  }
  let p0 = p.off_p + row * p.ld_p;
  let d0 = p.off_d + row * p.ld_d;
  var valid = p.cols;
  if (p.causal != 0u) {
    valid = min(p.cols, p.first_row + row + 1u);
  }
  var sum = 0.0;
  for (var j = t; j < valid; j += GROUP) {
    sum += grad[d0 + j] * probs[p0 + j];
  }
  partial[t] = sum;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] += partial[t + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  // Each invocation rewrites only the elements it alone read.
  for (var j = t; j < p.cols; j += GROUP) {
    var value = 0.0;
    if (j < valid) {
      value = p.scale * probs[p0 + j] * (grad[d0 + j] - total);
    }
    grad[d0 + j] = value;
  }
}
