// Row normalizations, one workgroup per row:
//   layer_norm: y = (x − mean) / sqrt(var + eps) · g + b, with the biased variance (as PyTorch).
//   rms_norm:   y = x / sqrt(mean(x²) + eps) · g (Llama).
// The variance is computed in two passes over the row (mean first, then Σ(x − mean)²), never as
// E[x²] − E[x]², which cancels catastrophically when |mean| ≫ std. Each invocation sums a strided
// slice of the row serially, then the workgroup combines the GROUP partials pairwise, so an element
// goes through at most ceil(width / GROUP) + log2(GROUP) additions. The wrapper sizes GROUP (a power
// of two ≤ 256) to the row: narrow rows get small workgroups rather than mostly idle ones, which
// matters on CPU adapters, where every invocation and barrier costs.

override GROUP: u32 = 256u;

var<workgroup> partial: array<f32, GROUP>;

// Must be called from uniform control flow by every invocation of the workgroup.
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
  // Nobody may overwrite the partials before everyone has read the total.
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(GROUP)
fn layer_norm(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= p.rows) {
    return;
  }
  let x0 = p.off_x + row * p.ld_x;
  var sum = 0.0;
  for (var i = t; i < p.width; i += GROUP) {
    sum += ln_x[x0 + i];
  }
  let mean = workgroup_sum(t, sum) / f32(p.width);
  var squares = 0.0;
  for (var i = t; i < p.width; i += GROUP) {
    let d = ln_x[x0 + i] - mean;
    squares += d * d;
  }
  let inv_std = 1.0 / sqrt(workgroup_sum(t, squares) / f32(p.width) + p.eps);
  let y0 = p.off_y + row * p.ld_y;
  for (var i = t; i < p.width; i += GROUP) {
    ln_y[y0 + i] = (ln_x[x0 + i] - mean) * inv_std * ln_g[p.off_g + i] + ln_b[p.off_b + i];
  }
}

@compute @workgroup_size(GROUP)
fn rms_norm(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= p.rows) {
    return;
  }
  let x0 = p.off_x + row * p.ld_x;
  var squares = 0.0;
  for (var i = t; i < p.width; i += GROUP) {
    let x = rms_x[x0 + i];
    squares += x * x;
  }
  let inv_rms = 1.0 / sqrt(workgroup_sum(t, squares) / f32(p.width) + p.eps);
  let y0 = p.off_y + row * p.ld_y;
  for (var i = t; i < p.width; i += GROUP) {
    rms_y[y0 + i] = rms_x[x0 + i] * inv_rms * rms_g[p.off_g + i];
  }
}
