// The row normalizations of norm.wgsl for CPU adapters (chosen by normKernel.ts), one invocation
// per row and no workgroup memory:
//   layer_norm: y = (x − mean) / sqrt(var + eps) · g + b, with the biased variance (as PyTorch).
//   rms_norm:   y = x / sqrt(mean(x²) + eps) · g (Llama).
//
// Why a second kernel: on a CPU adapter a workgroup runs on one thread and every workgroupBarrier
// switches between all of its emulated invocations; norm.wgsl's workgroup per row pays
// 2·log2(GROUP) + 2 of them per pass over a row, for rows as narrow as a small model's 64. Here an
// invocation walks its whole row, so a dispatch of R rows is ceil(R / 32) workgroups of straight-line
// work.
//
// The sums keep four running partial sums in one vec4 (elements 4i … 4i + 3 of the row go to lanes
// 0 … 3) and add the lanes pairwise at the end, so an element goes through at most
// ceil(width / 4) + 2 additions (the reference's bound, normBound). The variance is computed in two
// passes (mean first, then Σ(x − mean)²), never as E[x²] − E[x]². The uniform block and bindings
// are normShared.wgsl's, which kernels/norm.ts puts in front of this file.

const GROUP: u32 = 32u;

// The four lanes' sums added pairwise.
fn lanes_sum(s: vec4<f32>) -> f32 {
  return (s.x + s.y) + (s.z + s.w);
}

// The row of this invocation in the wrapper's folded grid (params.ts, foldGrid).
fn row_of(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * GROUP;
}

@compute @workgroup_size(GROUP)
fn layer_norm(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = row_of(gid, groups);
  if (row >= p.rows) {
    return;
  }
  let x0 = p.off_x + row * p.ld_x;
  let whole = p.width / 4u * 4u;
  var sum = vec4<f32>();
  for (var i = 0u; i < whole; i += 4u) {
    sum += vec4<f32>(ln_x[x0 + i], ln_x[x0 + i + 1u], ln_x[x0 + i + 2u], ln_x[x0 + i + 3u]);
  }
  for (var i = whole; i < p.width; i++) {
    sum[i - whole] += ln_x[x0 + i];
  }
  let mean = lanes_sum(sum) / f32(p.width);
  var squares = vec4<f32>();
  for (var i = 0u; i < whole; i += 4u) {
    let d = vec4<f32>(ln_x[x0 + i], ln_x[x0 + i + 1u], ln_x[x0 + i + 2u], ln_x[x0 + i + 3u]) - mean;
    squares += d * d;
  }
  for (var i = whole; i < p.width; i++) {
    let d = ln_x[x0 + i] - mean;
    squares[i - whole] += d * d;
  }
  let inv_std = 1.0 / sqrt(lanes_sum(squares) / f32(p.width) + p.eps);
  let y0 = p.off_y + row * p.ld_y;
  for (var i = 0u; i < p.width; i++) {
    ln_y[y0 + i] = (ln_x[x0 + i] - mean) * inv_std * ln_g[p.off_g + i] + ln_b[p.off_b + i];
  }
}

@compute @workgroup_size(GROUP)
fn rms_norm(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = row_of(gid, groups);
  if (row >= p.rows) {
    return;
  }
  let x0 = p.off_x + row * p.ld_x;
  let whole = p.width / 4u * 4u;
  var squares = vec4<f32>();
  for (var i = 0u; i < whole; i += 4u) {
    let x = vec4<f32>(rms_x[x0 + i], rms_x[x0 + i + 1u], rms_x[x0 + i + 2u], rms_x[x0 + i + 3u]);
    squares += x * x;
  }
  for (var i = whole; i < p.width; i++) {
    let x = rms_x[x0 + i];
    squares[i - whole] += x * x;
  }
  let inv_rms = 1.0 / sqrt(lanes_sum(squares) / f32(p.width) + p.eps);
  let y0 = p.off_y + row * p.ld_y;
  for (var i = 0u; i < p.width; i++) {
    rms_y[y0 + i] = rms_x[x0 + i] * inv_rms * rms_g[p.off_g + i];
  }
}
