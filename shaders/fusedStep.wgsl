// Workgroup pieces of the fused single-workgroup optimizer steps (the fused_* entry points of
// adafactor.wgsl and came.wgsl; train/optim/fused.ts says why they exist).
//
// FUSED_GROUP invocations, a multiple of 8 up to 64, chosen by the host (fused.ts): few on a CPU
// adapter, where every barrier costs per SIMD group of the workgroup, 64 on a GPU.
//
// Sums over the invocations: each sum has its own array, so one barrier suffices: every invocation
// stores its value, waits once, and then adds all the values itself in the same order as every
// other (runs of 8, then the run sums), so all get the same total. Depth: the values' own serial
// sums, then at most 16. Call from uniform control flow.
//
// The factors of a rank-1 estimate, rsqrt(R_i / mean R) at [0, rows) and rsqrt(C_j) at
// [rows, rows + cols), so that an element costs two multiplications instead of two inverse square
// roots. FUSED_FACTORS bounds rows + cols of a fused matrix (12 KiB; WebGPU guarantees 16 KiB of
// workgroup storage).

override FUSED_GROUP: u32 = 64u;
const FUSED_FACTORS: u32 = 3072u;

alias GroupValues = array<vec2<f32>, 64>;

var<workgroup> group_a: GroupValues;
var<workgroup> group_b: GroupValues;
var<workgroup> factors: array<f32, FUSED_FACTORS>;

fn group_sum(t: u32, x: vec2<f32>, values: ptr<workgroup, GroupValues>) -> vec2<f32> {
  (*values)[t] = x;
  workgroupBarrier();
  var total = vec2<f32>(0.0);
  for (var run = 0u; run < FUSED_GROUP; run += 8u) {
    var s = vec2<f32>(0.0);
    for (var k = 0u; k < 8u; k++) {
      s += (*values)[run + k];
    }
    total += s;
  }
  return total;
}

// Walks the elements e = t, t + FUSED_GROUP, … of a row-major matrix with their row and column,
// without a division per element.
struct Walk {
  i: u32,
  j: u32,
  di: u32,
  dj: u32,
}

fn walk_start(t: u32, cols: u32) -> Walk {
  return Walk(t / cols, t % cols, FUSED_GROUP / cols, FUSED_GROUP % cols);
}

fn walk_next(w: ptr<function, Walk>, cols: u32) {
  (*w).i += (*w).di;
  (*w).j += (*w).dj;
  if ((*w).j >= cols) {
    (*w).j -= cols;
    (*w).i += 1u;
  }
}

// The factored Û of element (i, j) of a rows-row matrix from the cached factors.
fn cached_u(g: f32, w: Walk, rows: u32) -> f32 {
  return g * factors[w.i] * factors[rows + w.j];
}
