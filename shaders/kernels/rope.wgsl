// Rotary position embedding (RoFormer, Su et al. 2021), in place on a [tokens, heads, head_dim]
// buffer: pair i of the first rot_dim dimensions of every head at position pos is rotated by the
// angle pos · θ^(−2i / rot_dim). HALF selects the pairing:
//   false, interleaved: (2i, 2i + 1), as llama2.c and Meta's checkpoints store q and k;
//   true, half:         (i, i + rot_dim / 2), Hugging Face's rotate_half (and GPT-NeoX's partial
//                       rotary, where rot_dim < head_dim leaves the tail of each head untouched).
// One invocation rotates one pair. Batched passes stack several windows in one buffer, each starting
// again at start_position.
//
// The angle is the delicate part: pos · freq reaches thousands of radians, so every relative error
// in freq becomes an absolute error in the angle that many times larger. freq = 2^(−i · rate) with
// rate = 2·log2(θ) / rot_dim, and the wrapper splits rate into rate_hi (12 significant bits, so
// i · rate_hi is exact for i < 4096) and rate_lo. The exponent then splits exactly into an integer
// and a fraction f ∈ [0, 1), so exp2 only ever sees |f| < 1 (where its error is smallest) and the
// integer part is applied exactly with ldexp.
//
// sin and cos are computed here, not with the built-ins: WGSL (like Vulkan) only promises 2^-11
// absolute accuracy for those, and SwiftShader delivers about that (1.9e-4 measured), an error
// thousands of times the rounding of f32. The angle is reduced by k · π/2 with Cody–Waite, π/2 =
// 1.5703125 + PIO2_LO (1.5703125 has 8 significant bits, so k · 1.5703125 is exact for k < 2^16,
// angles below 1e5), and the Cephes single-precision polynomials for sin and cos on [−π/4, π/4]
// (Moshier, Cephes sinf.c) are within 2^-24 absolute there (checked in f32 arithmetic on 200 001
// points).

struct Params {
  tokens: u32,
  heads: u32,
  head_dim: u32,
  half_rot: u32,
  ld: u32,
  off: u32,
  // Row t of the dispatch is token first_row + t of the operand; with several windows of seq_len
  // tokens stacked, its position is start_position + (first_row + t) mod seq_len.
  first_row: u32,
  seq_len: u32,
  start_position: u32,
  rate_hi: f32,
  rate_lo: f32,
}

override HALF: bool = false;

const PIO2_HI: f32 = 1.5703125;
const PIO2_LO: f32 = 4.8382679489661923e-4;
const TWO_OVER_PI: f32 = 0.6366197723675814;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

// (sin, cos) of an angle ≥ 0.
fn sin_cos(angle: f32) -> vec2<f32> {
  let k = round(angle * TWO_OVER_PI);
  let r = (angle - k * PIO2_HI) - k * PIO2_LO;
  let z = r * r;
  let sp = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z;
  let cp = (2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2;
  let sin_r = sp * r + r;
  let cos_r = (cp * z * z - 0.5 * z) + 1.0;
  switch (u32(k) & 3u) {
    case 0u: {
      return vec2<f32>(sin_r, cos_r);
    }
    case 1u: {
      return vec2<f32>(cos_r, -sin_r);
    }
    case 2u: {
      return vec2<f32>(-sin_r, -cos_r);
    }
    default: {
      return vec2<f32>(-cos_r, sin_r);
    }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
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
  x[ia] = a * c - b * s;
  x[ib] = a * s + b * c;
}
