// Gradient of the mean next-token cross-entropy with respect to the logits, one workgroup per row:
//   grad[t, j] = scale · (softmax(logits[t, :])_j − [j = target[t]])
// with scale = 1 / (number of rows that count) for a mean loss. The softmax is computed as in
// crossEntropy.wgsl: the row maximum first, so no exponent is positive, then Σ exp(x − m) combined
// pairwise over the workgroup, so an element goes through at most ceil(vocab / GROUP) + log2(GROUP)
// additions. A target of IGNORE gives a zero row (padding contributes nothing); any other target
// outside the vocabulary gives a NaN row, so the mistake shows.
//
// main writes grad beside the logits; main_inplace overwrites the logits with their gradient (the
// logits of a training step are not needed once the loss is known, and at vocab 50k they are the
// largest activation of the step).

struct Params {
  rows: u32,
  vocab: u32,
  ld_logits: u32,
  ld_grad: u32,
  off_logits: u32,
  off_targets: u32,
  off_grad: u32,
  nan_bits: u32,
  scale: f32,
}

override GROUP: u32 = 256u;
const IGNORE: u32 = 0xffffffffu;
const LOWEST: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> p: Params;

var<workgroup> partial: array<f32, GROUP>;
var<workgroup> row_target: u32;

fn workgroup_max(t: u32, value: f32) -> f32 {
  partial[t] = value;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] = max(partial[t], partial[t + stride]);
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

fn workgroup_sum(t: u32, value: f32) -> f32 {
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

// The row's target, loaded once and made uniform so the whole workgroup can branch on it.
fn load_target(t: u32, targets_value: u32) -> u32 {
  if (t == 0u) {
    row_target = targets_value;
  }
  return workgroupUniformLoad(&row_target);
}

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;

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
  let class_index = load_target(t, targets[p.off_targets + row]);
  let g0 = p.off_grad + row * p.ld_grad;
  if (class_index == IGNORE || class_index >= p.vocab) {
    let fill = select(bitcast<f32>(p.nan_bits), 0.0, class_index == IGNORE);
    for (var i = t; i < p.vocab; i += GROUP) {
      grad[g0 + i] = fill;
    }
    return;
  }
  let x0 = p.off_logits + row * p.ld_logits;
  var m = LOWEST;
  for (var i = t; i < p.vocab; i += GROUP) {
    m = max(m, logits[x0 + i]);
  }
  let row_max = workgroup_max(t, m);
  var sum = 0.0;
  for (var i = t; i < p.vocab; i += GROUP) {
    sum += exp(logits[x0 + i] - row_max);
  }
  let factor = p.scale / workgroup_sum(t, sum);
  for (var i = t; i < p.vocab; i += GROUP) {
    let onehot = select(0.0, p.scale, i == class_index);
    grad[g0 + i] = exp(logits[x0 + i] - row_max) * factor - onehot;
  }
}

@group(0) @binding(1) var<storage, read_write> inplace_logits: array<f32>;
@group(0) @binding(2) var<storage, read> inplace_targets: array<u32>;

@compute @workgroup_size(GROUP)
fn main_inplace(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= p.rows) {
    return;
  }
  let class_index = load_target(t, inplace_targets[p.off_targets + row]);
  let x0 = p.off_logits + row * p.ld_logits;
  if (class_index == IGNORE || class_index >= p.vocab) {
    let fill = select(bitcast<f32>(p.nan_bits), 0.0, class_index == IGNORE);
    for (var i = t; i < p.vocab; i += GROUP) {
      inplace_logits[x0 + i] = fill;
    }
    return;
  }
  var m = LOWEST;
  for (var i = t; i < p.vocab; i += GROUP) {
    m = max(m, inplace_logits[x0 + i]);
  }
  let row_max = workgroup_max(t, m);
  var sum = 0.0;
  for (var i = t; i < p.vocab; i += GROUP) {
    sum += exp(inplace_logits[x0 + i] - row_max);
  }
  let factor = p.scale / workgroup_sum(t, sum);
  // Each invocation rewrites only the elements it alone read, after the last read of the row.
  for (var i = t; i < p.vocab; i += GROUP) {
    let onehot = select(0.0, p.scale, i == class_index);
    inplace_logits[x0 + i] = exp(inplace_logits[x0 + i] - row_max) * factor - onehot;
  }
}
