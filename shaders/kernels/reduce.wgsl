// One pass of a tree reduction: each workgroup folds a block of 2048 elements into one partial.
// Every invocation first combines 8 elements 256 apart (serially), then the workgroup combines its
// 256 values pairwise in log2(256) = 8 steps. The wrapper repeats passes over the partials until
// one value is left, so the rounding error grows with the tree depth (16 per pass), not with n.

struct Params {
  n: u32,
  off_in: u32,
  off_out: u32,
}

// MAP applied to each input element: 0 = x, 1 = x², 2 = |x|.
override MAP: u32 = 0u;
// COMBINE: 0 = sum, 1 = max.
override COMBINE: u32 = 0u;

const PER_INVOCATION: u32 = 8u;
const GROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

var<workgroup> partial: array<f32, 256>;

fn mapped(x: f32) -> f32 {
  switch MAP {
    case 1u: { return x * x; }
    case 2u: { return abs(x); }
    default: { return x; }
  }
}

fn combine(a: f32, b: f32) -> f32 {
  if (COMBINE == 1u) {
    return max(a, b);
  }
  return a + b;
}

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let block = wg.x + wg.y * groups.x;
  let first = block * GROUP * PER_INVOCATION;
  // The identity of both combines on mapped values: sums start at 0, and max is only used on |x|.
  var acc = 0.0;
  for (var r = 0u; r < PER_INVOCATION; r++) {
    let i = first + r * GROUP + t;
    if (i < p.n) {
      acc = combine(acc, mapped(input[p.off_in + i]));
    }
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var stride = GROUP / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      partial[t] = combine(partial[t], partial[t + stride]);
    }
    workgroupBarrier();
  }
  if (t == 0u && first < p.n) {
    output[p.off_out + block] = partial[0];
  }
}
