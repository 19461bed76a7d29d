// Counts the NaN and infinite entries of a gradient before an optimizer step uses it. The test reads
// the exponent bits (all ones: ±∞ when the mantissa is zero, NaN otherwise) instead of comparing
// floats, because WGSL lets a compiler assume floating-point values are finite. Each invocation
// counts its own 8 elements and touches the atomics only when it found one, so a clean gradient
// costs one read per element.

// grad: the window's first gradient element; counts: the parameter's slot in counts (infinite at
// counts, NaN at counts + 1).
struct NonFiniteParams {
  n: u32,
  grad: u32,
  counts: u32,
}

@group(0) @binding(0) var<uniform> np: NonFiniteParams;

@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let first = (wg.x + wg.y * groups.x) * 2048u;
  var inf = 0u;
  var nan = 0u;
  for (var r = 0u; r < 8u; r++) {
    let i = first + r * 256u + t;
    if (i < np.n) {
      let bits = bitcast<u32>(grad[np.grad + i]);
      if ((bits & 0x7f800000u) == 0x7f800000u) {
        if ((bits & 0x007fffffu) == 0u) {
          inf += 1u;
        } else {
          nan += 1u;
        }
      }
    }
  }
  if (inf > 0u) {
    atomicAdd(&counts[np.counts], inf);
  }
  if (nan > 0u) {
    atomicAdd(&counts[np.counts + 1u], nan);
  }
}
