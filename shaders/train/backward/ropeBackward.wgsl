// Backward of the rotary position embedding (rope.wgsl), in place: a rotation's gradient is the
// inverse rotation of the output's gradient, (a, b) ← (a·c + b·s, −a·s + b·c) with the same angle.
// This file is compiled after rope.wgsl, in one module: the entry point below reuses its Params,
// its binding x and its sin_cos, and the wrapper reuses the forward's dispatches (windows and
// uniforms), so only the sign of the rotation differs. The angle is computed exactly as rope.wgsl's
// main computes it, so the two rotations are inverses to within the rounding of the products.

@compute @workgroup_size(256)
fn rope_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = gid.x + gid.y * groups.x * 256u;
  if (e >= p.tokens * p.heads * p.half_rot) {
    return;
  }
  let i = e % p.half_rot;
  let row = e / p.half_rot;
  let h = row % p.heads;
  let t = row / p.heads;

  let fi = f32(i);
  let scaled = fi * p.rate_hi;
  let whole = floor(scaled);
  let frac = (scaled - whole) + fi * p.rate_lo;
  let freq = ldexp(exp2(-frac), -i32(whole));
  let sc = sin_cos(f32(p.start_position + (p.first_row + t) % p.seq_len) * freq);
  let s = sc.x;
  let c = sc.y;

  let base = p.off + t * p.ld + h * p.head_dim;
  var ia: u32;
  var ib: u32;
  if (HALF) {
    ia = base + i;
    ib = ia + p.half_rot;
  } else {
    ia = base + 2u * i;
    ib = ia + 1u;
  }
  let a = x[ia];
  let b = x[ib];
  x[ia] = a * c + b * s;
  x[ib] = b * c - a * s;
}
