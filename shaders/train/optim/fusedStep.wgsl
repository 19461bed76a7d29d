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

// The factored second moment of a fused step, shared by Adafactor and CAME, over the G, R and C
// that both shaders bind as xg, xr and xc (each passes its own cols, ε1 and 1/rows):
// C ← β·C + (1−β)·colmean(G² + ε1), one column per invocation, with its factor rsqrt(C) cached;
// then R ← β·R + (1−β)·rowmean(G² + ε1), one row per invocation. Since Û² = G²·mean R / (R·C),
// Σ Û² = mean R · Σ_i (Σ_j G²/C_j) / R_i is summed in the same sweep. Returns (Σ R, Σ G²/(R·C)).
fn factored_ema(t: u32, rows: u32, cols: u32, beta: f32, one_minus_beta: f32, eps1: f32, inv_rows: f32) -> vec2<f32> {
  for (var j = t; j < cols; j += FUSED_GROUP) {
    var acc = 0.0;
    for (var i = 0u; i < rows; i++) {
      let g = xg[i * cols + j];
      acc += g * g + eps1;
    }
    let c = beta * xc[j] + one_minus_beta * acc * inv_rows;
    xc[j] = c;
    factors[rows + j] = inverseSqrt(c);
  }
  workgroupBarrier();
  var own = vec2<f32>(0.0);
  for (var i = t; i < rows; i += FUSED_GROUP) {
    var acc = 0.0;
    var scaled = 0.0;
    for (var j = 0u; j < cols; j++) {
      let g = xg[i * cols + j];
      let b = factors[rows + j];
      acc += g * g + eps1;
      scaled += g * g * b * b;
    }
    let r = beta * xr[i] + one_minus_beta * acc / f32(cols);
    xr[i] = r;
    own += vec2<f32>(r, scaled / r);
  }
  return group_sum(t, own, &group_a);
}
