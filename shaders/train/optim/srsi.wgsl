// The small dense pieces of Adapprox's S-RSI on the GPU (docs/training.md, "Adapprox"): the thin QR
// of the tall-skinny sketch Y (rows × w), the eigendecomposition of the w × w Gram of U with the
// truncation error of every rank and the chosen rank, and the rotation of Q and U into
// singular-vector order. w is small (k + oversampling), so the QR and the eigensolver each run in
// ONE workgroup (of WG invocations). Each matrix's sketch lives in one buffer `sk`: Ω, later U
// (long × w) at +0, Y, later Q (short × w) at +long·w, and the w × w scratch (`work`) after them;
// it must fit one binding (train/optim/srsiGpu.ts checks it up front). While Y is factored, Ω's
// place is free and the QR's passes alternate between it and Y's. Nothing here is read back.
// For small matrices, srsi_small runs the whole S-RSI of one matrix (Ω, the l power iterations with
// their products and QRs, the eigendecomposition and the rank) in one dispatch: on CPU drivers a
// dispatch has a fixed cost of a millisecond or more, larger than all of that arithmetic.
// This file is compiled together with adapprox.wgsl (its Gaussian stream; srsiGpu.ts) and
// block8.wgsl (block_step).
//
// Why shifted CholeskyQR3 and not Householder: on CPU drivers (SwiftShader) a workgroup barrier
// costs far more than the arithmetic between two of them, and a Householder QR needs a reduction
// (several barriers) per column plus as many again to form Q, where a CholeskyQR pass is one Gram
// (no barrier: each entry is summed over the rows by one invocation, `gram`), a Cholesky of one
// barrier per row of R, R⁻¹ by columns (one barrier) and the product Y·R⁻¹ (none). Plain f32
// CholeskyQR squares the condition number in the Gram and fails from κ(Y) ≈ 1e4 on. A shifted pass
// factors YᵀY + s·I with s = 11·(rows·w + w(w+1))·u·‖Y‖²_F (u = 2⁻²⁴), which keeps its Cholesky
// defined for any Y and leaves Q₁ = Y·R⁻¹ with κ(Q₁) ≈ sqrt(s)/σ_min(Y) (Fukaya, Kannan,
// Nakatsukasa, Yamamoto, Yanagisawa 2020). In f32, s/‖Y‖² ≈ 1e-3 at these sizes, so one shift
// leaves κ(Q₁) above u^-½ ≈ 4096 once κ(Y) ≳ 1e5 (the tests saw orthogonality errors of O(1) at
// κ = 1e6 with one); a second shifted pass brings it to ~1e3, and two plain passes (CholeskyQR2)
// then make Q orthonormal to O((rows·w + w²)·u).
// A pivot below w·u of its column's squared norm is rounding noise (the column is, to working
// precision, in the span of the earlier ones, or Y is worse conditioned than one shift can mend) and
// is raised to that floor. Only the pivot is inaccurate there, not the column's direction, which the
// solve forms from Y itself: the floor just scales that column, and the next pass, to which column
// scaling makes no difference, orthonormalises it (qr adds a pass when the last one floored). So κ(Y) up to ~1e6 (the tests) and exactly
// rank-deficient sketches (V of rank below w; Q is then completed by orthonormal noise directions
// whose columns of U are ~0) both come out orthonormal. An all-zero column of Y stays zero.
//
// The w × w work of the QR's Cholesky and of the eigensolver (the Gram, R, A, E, the round's
// rotations) lives in workgroup memory when the host found room for it there (WK_FLOATS > 1,
// srsiGpu.ts workOverrides), else in the sketch at the work's offset. Why: the Cholesky's rows and
// the Jacobi rounds are chains of dependent loads between barriers, one workgroup long; on a GPU a
// load from a storage buffer waits hundreds of cycles where workgroup memory answers in tens (on an
// H200 the paper preset's cholesky_qr3 and eigen_rank took 145 and 147 GPU ms a step from storage).
// Everything read after the kernel (the sorted E, the eigenvalues, Q and U) is always in the sketch.

const UNIT_ROUNDOFF: f32 = 5.9604645e-8;

// Invocations of the single-workgroup kernels.
override WG: u32 = 64u;

@group(0) @binding(1) var<storage, read_write> sk: array<f32>;
@group(0) @binding(2) var<storage, read_write> sc: array<f32>;

// The work in workgroup memory; 1 (unused) when it stays in the sketch.
override WK_FLOATS: u32 = 1u;
var<workgroup> wk: array<f32, WK_FLOATS>;

// Entry i of the work whose sketch copy starts at g.
fn wget(g: u32, i: u32) -> f32 {
  if (WK_FLOATS > 1u) {
    return wk[i];
  }
  return sk[g + i];
}

fn wput(g: u32, i: u32, x: f32) {
  if (WK_FLOATS > 1u) {
    wk[i] = x;
  } else {
    sk[g + i] = x;
  }
}

// The barrier that orders the work's accesses wherever it lives.
fn work_barrier() {
  if (WK_FLOATS > 1u) {
    workgroupBarrier();
  } else {
    storageBarrier();
  }
}

// The Gram XᵀX of X (rows × w at x0 of the sketch, row-major) into the work at g (w × w, both
// triangles; wput), in 8 × 8 blocks as fs_product's (below): an invocation loads 8 entries of a row of
// X for its block's rows and 8 for its columns, and makes 64 multiply-adds of them. Only the blocks on
// and above the diagonal are summed (⌈w/8⌉(⌈w/8⌉+1)/2 of them: 6 of the 9 at w = 21), each entry
// also stored at its mirror, so the Gram is exactly symmetric; within a diagonal block, entries
// (a, b) and (b, a) are the same products in the same order. Each entry is summed serially over the
// rows. Indices past w − 1 are clamped and their entries dropped.
fn gram(t: u32, rows: u32, w: u32, x0: u32, g: u32) {
  let blocks = (w + 7u) / 8u;
  let last = w - 1u;
  for (var id = t; id < blocks * (blocks + 1u) / 2u; id += WG) {
    // Block (bi, bk), bi ≤ bk, of the upper triangle, numbered row by row.
    var bi = 0u;
    var bk = id;
    while (bk >= blocks - bi) {
      bk -= blocks - bi;
      bi++;
    }
    bk += bi;
    let a0 = bi * 8u;
    let k0 = bk * 8u;
    let aa = clamp4(a0, last);
    let ab = clamp4(a0 + 4u, last);
    let ka = clamp4(k0, last);
    let kb = clamp4(k0 + 4u, last);
    var acc = array<vec4<f32>, 16>();
    for (var r = 0u; r < rows; r++) {
      let row = x0 + r * w;
      block_step(
        &acc,
        vec4<f32>(sk[row + aa.x], sk[row + aa.y], sk[row + aa.z], sk[row + aa.w]),
        vec4<f32>(sk[row + ab.x], sk[row + ab.y], sk[row + ab.z], sk[row + ab.w]),
        vec4<f32>(sk[row + ka.x], sk[row + ka.y], sk[row + ka.z], sk[row + ka.w]),
        vec4<f32>(sk[row + kb.x], sk[row + kb.y], sk[row + kb.z], sk[row + kb.w]),
      );
    }
    for (var c = 0u; c < 8u && k0 + c < w; c++) {
      for (var i = 0u; i < 8u && a0 + i < w; i++) {
        // Rows 4…7 of the block are in acc[8…15].
        let x = acc[select(0u, 8u, i >= 4u) + c][i & 3u];
        wput(g, (a0 + i) * w + k0 + c, x);
        wput(g, (k0 + c) * w + a0 + i, x);
      }
    }
  }
}

// Writes scale times the 8 × 8 block at rows r0…, columns k0… of the `cols`-wide matrix at c0 of
// the sketch, dropping what is past row `rows` − 1 or column `cols` − 1.
fn block_store(acc: ptr<function, array<vec4<f32>, 16>>, c0: u32, r0: u32, rows: u32, k0: u32, cols: u32, scale: f32) {
  for (var c = 0u; c < 8u && k0 + c < cols; c++) {
    let top = (*acc)[c];
    let bottom = (*acc)[8u + c];
    for (var i = 0u; i < 4u && r0 + i < rows; i++) {
      sk[c0 + (r0 + i) * cols + k0 + c] = scale * top[i];
    }
    for (var i = 4u; i < 8u && r0 + i < rows; i++) {
      sk[c0 + (r0 + i) * cols + k0 + c] = scale * bottom[i - 4u];
    }
  }
}

// One CholeskyQR pass over Y (rows × w at y0 of the sketch) into `out` (rows × w elsewhere in the
// sketch) with the work whose sketch copy is at g: the Gram / R (upper triangle) at +0, later R⁻¹
// transposed (lower triangle and diagonal), the diagonal before factoring at +w², R's diagonal at
// +w² + w.
fn qr_pass(t: u32, rows: u32, w: u32, y0: u32, g: u32, out: u32, shifted: bool) {
  let diag = w * w;
  let rdiag = diag + w;
  if (t == 0u) {
    qr_unsettled = 0u;
  }
  // YᵀY (the factorisation reads its upper triangle).
  gram(t, rows, w, y0, g);
  work_barrier();
  var shift = 0.0;
  if (shifted) {
    var trace = 0.0;
    for (var a = 0u; a < w; a++) {
      trace += wget(g, a * w + a);
    }
    shift = 11.0 * f32(rows * w + w * (w + 1u)) * UNIT_ROUNDOFF * trace;
  }
  work_barrier();
  for (var a = t; a < w; a += WG) {
    let d = wget(g, a * w + a) + shift;
    wput(g, a * w + a, d);
    wput(g, diag + a, d);
  }
  work_barrier();
  // Cholesky G = RᵀR, row by row into the upper triangle: r_jb = (g_jb − Σ_{m<j} r_mj·r_mb) / r_jj,
  // entry b by invocation b − j − 1, from the rows above only, so one barrier per row (a
  // right-looking update needs two: on a CPU driver a barrier costs microseconds, more than the
  // row's arithmetic). Each invocation forms the pivot r_jj itself: the same loads for all of them
  // (one load per SIMD group). The sums run in the order a right-looking update subtracts them.
  let tol = f32(w) * UNIT_ROUNDOFF;
  for (var j = 0u; j < w; j++) {
    if (t == 0u || j + 1u + t < w) {
      var pivot = wget(g, j * w + j);
      for (var m = 0u; m < j; m++) {
        let rmj = wget(g, m * w + j);
        pivot -= rmj * rmj;
      }
      let d = wget(g, diag + j);
      let r = sqrt(max(pivot, tol * d));
      // A column of the pass's input far from unit length (and not zero): see qr.
      if (t == 0u) {
        wput(g, rdiag + j, r);
        if (d != 0.0 && abs(d - 1.0) > 1e-3) {
          qr_unsettled = 1u;
        }
      }
      for (var b = j + 1u + t; b < w; b += WG) {
        var x = wget(g, j * w + b);
        for (var m = 0u; m < j; m++) {
          x -= wget(g, m * w + j) * wget(g, m * w + b);
        }
        wput(g, j * w + b, select(0.0, x / r, r > 0.0));
      }
    }
    work_barrier();
  }
  // Y ← Y·R⁻¹. First R⁻¹ (upper triangular) by columns: column c by back substitution,
  // z_cc = 1/r_cc, z_ic = −(Σ_{i<m≤c} r_im·z_mc)/r_ii, one column per invocation; it goes
  // transposed into row c of the work's lower triangle and diagonal (z_ic at c·w + i), which the
  // factorisation no longer reads, so no invocation reads what another writes. A column with
  // r_cc = 0 (an all-zero column of Y) is zero, and so is its row.
  for (var c = t; c < w; c += WG) {
    let rc = wget(g, rdiag + c);
    wput(g, c * w + c, select(0.0, 1.0 / rc, rc > 0.0));
    for (var i = c; i > 0u; ) {
      i--;
      var x = 0.0;
      for (var m = i + 1u; m <= c; m++) {
        x += wget(g, i * w + m) * wget(g, c * w + m);
      }
      let ri = wget(g, rdiag + i);
      wput(g, c * w + i, select(0.0, -x / ri, ri > 0.0));
    }
  }
  work_barrier();
  // Then the product Y·R⁻¹ into `out`, an 8 × 8 block per invocation summed over the columns up to
  // the block's last (fs_product's blocking: 16 loads per step for 64 multiply-adds, where the
  // triangular solve this replaced loaded twice per multiply-add); (rows / 8)·(w / 8) blocks to
  // spread over the invocations. Neighbouring invocations take the row blocks of one column block,
  // so they loop equally long (a SIMD group runs as long as its longest lane). Columns past w − 1
  // are clamped and dropped.
  let rblocks = (rows + 7u) / 8u;
  let wlast = w - 1u;
  let rlast = rows - 1u;
  for (var id = t; id < rblocks * ((w + 7u) / 8u); id += WG) {
    let r0 = (id % rblocks) * 8u;
    let k0 = (id / rblocks) * 8u;
    let ra = clamp4(r0, rlast) * w + y0;
    let rb = clamp4(r0 + 4u, rlast) * w + y0;
    let ka = clamp4(k0, wlast);
    let kc = clamp4(k0 + 4u, wlast);
    var acc = array<vec4<f32>, 16>();
    for (var i = 0u; i < min(k0 + 8u, w); i++) {
      let za = select(vec4<f32>(0.0), vec4<f32>(wget(g, ka.x * w + i), wget(g, ka.y * w + i), wget(g, ka.z * w + i), wget(g, ka.w * w + i)), vec4<u32>(i) <= ka);
      let zb = select(vec4<f32>(0.0), vec4<f32>(wget(g, kc.x * w + i), wget(g, kc.y * w + i), wget(g, kc.z * w + i), wget(g, kc.w * w + i)), vec4<u32>(i) <= kc);
      block_step(
        &acc,
        vec4<f32>(sk[ra.x + i], sk[ra.y + i], sk[ra.z + i], sk[ra.w + i]),
        vec4<f32>(sk[rb.x + i], sk[rb.y + i], sk[rb.z + i], sk[rb.w + i]),
        za,
        zb,
      );
    }
    block_store(&acc, out, r0, rows, k0, w, 1.0);
  }
  // The product is read by the next pass's Gram, or by the caller; the work is rewritten by the
  // next pass.
  storageBarrier();
}

// Whether the last qr_pass's input had a nonzero column whose squared norm was off 1 by more than
// 1e-3 (written by invocation 0).
var<workgroup> qr_unsettled: u32;

// Two shifted passes, then `plain` (2, or 0 where only the span matters) plain ones. A plain pass
// leaves Q orthonormal to O(κ²·u) of its input, which is O(u) when that input is already nearly
// orthonormal; its columns' squared norms, which the pass computes anyway, tell whether it was. In
// a rank-deficient sketch the noise columns can still come out of the first plain pass far from
// unit length (an 11 × 11 rank-1 sketch, srsiGpu.test.ts seed 2365451509, ended with a column of
// squared norm 0.9933 after two plain passes, and 1.0000 after a third). So while the last pass's
// input was unsettled, one more plain pass runs, at most twice; a settled input costs nothing more.
// The passes alternate between Y's place and the spare one, each reading its input from one and
// writing its product to the other, so no pass copies; after an odd number of passes Q is copied
// back into Y's place.
fn qr(t: u32, rows: u32, w: u32, y0: u32, g0: u32, spare: u32, plain: u32) {
  var yin = y0;
  var yout = spare;
  var passes = 2u + plain;
  for (var k = 0u; k < passes; k++) {
    qr_pass(t, rows, w, yin, g0, yout, k < 2u);
    let done = yin;
    yin = yout;
    yout = done;
    if (k + 1u == passes && plain > 0u && passes < 4u + plain && workgroupUniformLoad(&qr_unsettled) != 0u) {
      passes++;
    }
  }
  if (yin != y0) {
    for (var e = t; e < rows * w; e += WG) {
      sk[y0 + e] = sk[yin + e];
    }
    storageBarrier();
  }
}

// ---- Thin QR of Y in place. rows, y = Y, work (w² + 2w), w, plain = the plain passes
// after the two shifted ones: 2 for an orthonormal Q, 0 where only Q's span and conditioning
// matter (the power iterations before the last; κ(Q) ≲ 1e3 there), spare = rows × w floats of the
// sketch the QR may overwrite (Ω's place, free between the products).
struct QrParams {
  rows: u32,
  y: u32,
  work: u32,
  w: u32,
  plain: u32,
  spare: u32,
}

@group(0) @binding(0) var<uniform> cqp: QrParams;
@compute @workgroup_size(WG)
fn cholesky_qr3(@builtin(local_invocation_index) t: u32) {
  qr(t, cqp.rows, cqp.w, cqp.y, cqp.work, cqp.spare, cqp.plain);
}

// ---- Eigendecomposition of UᵀU (U rows × w at u0) by parallel cyclic Jacobi, then the
// truncation errors ξ_j = sqrt(max(s² − Σ_{i<j} λ_i⁺, 0) / s²) for j = 0…w and the rank rule (the
// smallest j in [k_min, k_cap] with ξ_j ≤ ξ_thr, else k_cap), as srsi.reference.ts computes them in
// float64. s² = Σ (V / max V)² is read from the parameter's scalar slot (+4), matching U = Vᵀ·Q /
// max V; the record (ξ_0…ξ_w, then k as f32) goes to sc[record…]. Work at a0 of the sketch
// (3w² + 2⌈w/2⌉ + w): A at +0 (the Gram; the rotations keep its upper triangle only, eg_at), the
// eigenvectors E at +w², E with its columns sorted by descending
// eigenvalue at +2w² (what the rotation reads), the round's rotations (c, s) at +3w², the sorted
// eigenvalues after. A, E and the rotations are the work (wget, wput): in workgroup memory they
// sit at +0, +w² and +2w² instead; the sorted E and eigenvalues are always in the sketch.
// Parallel ordering (round robin): each round rotates ⌈w/2⌉ disjoint pairs (p, q) at once, so its
// column rotations commute and one barrier covers them all; w − 1 (or w) rounds visit every pair
// once per sweep. A sweep costs 3 barriers per round instead of 2 per pair for the serial order.

var<workgroup> eg_converged: u32;
// Each invocation's share of the off-diagonal and the whole squared Frobenius norm of A.
var<workgroup> eg_norms: array<vec2<f32>, WG>;

const JACOBI_SWEEPS: u32 = 30u;

// Pair i of round r among `players` (even) indices: the circle method, player players−1 fixed.
// r < ring and 0 < i < ring, so each sum below is under 2·ring and one conditional subtraction
// takes it mod ring (an integer division is a scalar divide per lane on a CPU driver, and the
// rotations call this once per pair and row block).
fn eg_pair(r: u32, i: u32, players: u32) -> vec2<u32> {
  let ring = players - 1u;
  var a: u32;
  var b: u32;
  if (i == 0u) {
    a = ring;
    b = r;
  } else {
    a = r + i;
    a = select(a, a - ring, a >= ring);
    b = r + ring - i;
    b = select(b, b - ring, b >= ring);
  }
  return vec2<u32>(min(a, b), max(a, b));
}

// Where entry (a, b) of the symmetric A lives in the work at g: its upper triangle.
fn eg_at(a: u32, b: u32, w: u32) -> u32 {
  return min(a, b) * w + max(a, b);
}

// One round's rotations, from the (c, s) of each pair at rot0 of the work at g (A at +0, E at
// e0): A ← Jᵀ·A·J and E ← E·J. The round's pairs are disjoint, so the 2 × 2 block of A on the rows
// of pair i and the columns of pair j depends on nothing else: it is loaded once, its columns
// rotated (A·J) and then its rows (Jᵀ·), the order and the operations of two separate passes, and
// stored; no barrier between the two sides. A is symmetric and kept in its upper triangle (eg_at):
// block (i, j) is block (j, i) transposed, so only the blocks with i ≤ j are rotated, each entry
// stored once (on a CPU adapter each load and store here is a gather or a scatter, and this halves
// them). Invocation i takes the blocks of pair i's rows; where the workgroup has more invocations
// than pairs, `lanes` of them share a pair's blocks, taking every lanes-th one. For E, each
// invocation takes a pair's two columns through every row (or, with more invocations than pairs,
// through every lanes-th row), loading the pair and its rotation once. A pair's q is w when w is
// odd (the idle player): its p is then rotated by the other pairs only.
fn eg_apply(t: u32, round: u32, players: u32, w: u32, g: u32, e0: u32, rot0: u32) {
  let half = players / 2u;
  let lanes = max(1u, WG / half);
  for (var i = t / lanes; i < half; i += WG / lanes) {
    let pi = eg_pair(round, i, players);
    let si = wget(g, rot0 + 2u * i + 1u);
    let ci = wget(g, rot0 + 2u * i);
    let rows_on = pi.y < w && si != 0.0;
    // Row q_i, clamped to p_i where it is the idle player's (then read, not written).
    let qi = select(pi.x, pi.y, pi.y < w);
    for (var j = i + t % lanes; j < half; j += lanes) {
      let pj = eg_pair(round, j, players);
      let sj = wget(g, rot0 + 2u * j + 1u);
      let cj = wget(g, rot0 + 2u * j);
      let cols_on = pj.y < w && sj != 0.0;
      if (!rows_on && !cols_on) {
        continue;
      }
      let qj = select(pj.x, pj.y, pj.y < w);
      var x = vec4<f32>(
        wget(g, eg_at(pi.x, pj.x, w)),
        wget(g, eg_at(pi.x, qj, w)),
        wget(g, eg_at(qi, pj.x, w)),
        wget(g, eg_at(qi, qj, w)),
      );
      if (cols_on) {
        x = vec4<f32>(cj * x.x - sj * x.y, sj * x.x + cj * x.y, cj * x.z - sj * x.w, sj * x.z + cj * x.w);
      }
      if (rows_on) {
        x = vec4<f32>(ci * x.x - si * x.z, ci * x.y - si * x.w, si * x.x + ci * x.z, si * x.y + ci * x.w);
      }
      // On the diagonal block (i = j), (p, q) and (q, p) are one entry: it takes (p, q)'s value.
      wput(g, eg_at(pi.x, pj.x, w), x.x);
      if (pj.y < w) {
        wput(g, eg_at(pi.x, qj, w), x.y);
      }
      if (pi.y < w && i != j) {
        wput(g, eg_at(qi, pj.x, w), x.z);
      }
      if (pi.y < w && pj.y < w) {
        wput(g, eg_at(qi, qj, w), x.w);
      }
    }
  }
  for (var i = t / lanes; i < half; i += WG / lanes) {
    let pq = eg_pair(round, i, players);
    let s = wget(g, rot0 + 2u * i + 1u);
    let c = wget(g, rot0 + 2u * i);
    if (pq.y < w && s != 0.0) {
      for (var k = t % lanes; k < w; k += lanes) {
        let p = e0 + k * w + pq.x;
        let q = e0 + k * w + pq.y;
        let u = wget(g, p);
        let v = wget(g, q);
        wput(g, p, c * u - s * v);
        wput(g, q, s * u + c * v);
      }
    }
  }
}

fn eigen(t: u32, rows: u32, w: u32, u0: u32, a0: u32, slot: u32, record: u32, k_min: u32, k_cap: u32, threshold: f32) {
  // A at +0 and E at e0 of the work; the rotations at rot0 of it (after the sorted E in the
  // sketch, at 2w² in workgroup memory); the sorted E and eigenvalues in the sketch.
  let e0 = w * w;
  let es0 = a0 + 2u * w * w;
  let players = w + (w & 1u);
  let half = players / 2u;
  let rot0 = select(3u * w * w, 2u * w * w, WK_FLOATS > 1u);
  let vals0 = a0 + 3u * w * w + 2u * half;
  gram(t, rows, w, u0, a0);
  for (var e = t; e < w * w; e += WG) {
    wput(a0, e0 + e, select(0.0, 1.0, e / w == e % w));
  }
  work_barrier();
  for (var sweep = 0u; sweep < JACOBI_SWEEPS; sweep++) {
    // Converged when the off-diagonal part is below 1e-6 of the whole in Frobenius norm: f32
    // rotations cannot take it much further (each leaves O(u·‖A‖) behind). Each invocation sums
    // whole rows of the upper triangle, an entry off the diagonal twice (no integer division per
    // entry), and invocation 0 adds the shares in order.
    var norms = vec2<f32>(0.0);
    for (var a = t; a < w; a += WG) {
      let d = wget(a0, a * w + a);
      norms.y += d * d;
      for (var b = a + 1u; b < w; b++) {
        let x = wget(a0, a * w + b);
        norms += vec2<f32>(2.0 * x * x);
      }
    }
    eg_norms[t] = norms;
    workgroupBarrier();
    if (t == 0u) {
      var total = vec2<f32>(0.0);
      for (var i = 0u; i < WG; i++) {
        total += eg_norms[i];
      }
      eg_converged = select(0u, 1u, total.x <= 1e-12 * total.y);
    }
    if (workgroupUniformLoad(&eg_converged) == 1u) {
      break;
    }
    for (var round = 0u; round < players - 1u; round++) {
      for (var i = t; i < half; i += WG) {
        let pq = eg_pair(round, i, players);
        var c = 1.0;
        var s = 0.0;
        if (pq.y < w) {
          let apq = wget(a0, pq.x * w + pq.y);
          if (apq != 0.0) {
            // The rotation that zeroes (p, q): t = tan θ, the smaller root of t² + 2τt − 1 = 0.
            let tau = (wget(a0, pq.y * w + pq.y) - wget(a0, pq.x * w + pq.x)) / (2.0 * apq);
            var tn: f32;
            if (abs(tau) > 1e15) {
              tn = 0.5 / tau;
            } else {
              tn = sign(tau) / (abs(tau) + sqrt(1.0 + tau * tau));
              if (tau == 0.0) {
                tn = 1.0;
              }
            }
            c = inverseSqrt(1.0 + tn * tn);
            s = tn * c;
          }
        }
        wput(a0, rot0 + 2u * i, c);
        wput(a0, rot0 + 2u * i + 1u, s);
      }
      work_barrier();
      // A ← Jᵀ·A·J and E ← E·J.
      eg_apply(t, round, players, w, a0, e0, rot0);
      work_barrier();
    }
  }
  // Sort by descending eigenvalue (ties by index): each eigenpair finds its own position.
  for (var j = t; j < w; j += WG) {
    let lj = wget(a0, j * w + j);
    var at = 0u;
    for (var i = 0u; i < w; i++) {
      let li = wget(a0, i * w + i);
      if (li > lj || (li == lj && i < j)) {
        at++;
      }
    }
    sk[vals0 + at] = lj;
    for (var k = 0u; k < w; k++) {
      sk[es0 + k * w + at] = wget(a0, e0 + k * w + j);
    }
  }
  storageBarrier();
  if (t == 0u) {
    let s2 = sc[slot + 4u];
    var kept = 0.0;
    var rank = k_cap;
    var found = false;
    for (var j = 0u; j <= w; j++) {
      let xi = select(0.0, sqrt(max(s2 - kept, 0.0) / s2), s2 > 0.0);
      sc[record + j] = xi;
      if (!found && j >= k_min && j <= k_cap && xi <= threshold) {
        rank = j;
        found = true;
      }
      if (j < w) {
        kept += max(sk[vals0 + j], 0.0);
      }
    }
    sc[record + w + 1u] = f32(rank);
  }
}

// rows, u = U, work, w, slot = the parameter's slot, record, k_min, k_cap, threshold = ξ_thr.
struct EigenRankParams {
  rows: u32,
  u: u32,
  work: u32,
  w: u32,
  slot: u32,
  record: u32,
  k_min: u32,
  k_cap: u32,
  threshold: f32,
}

@group(0) @binding(0) var<uniform> erp: EigenRankParams;
@compute @workgroup_size(WG)
fn eigen_rank(@builtin(local_invocation_index) t: u32) {
  eigen(t, erp.rows, erp.w, erp.u, erp.work, erp.slot, erp.record, erp.k_min, erp.k_cap, erp.threshold);
}

// ---- The whole S-RSI of a small matrix in one workgroup. V (read, `cols` its row length) is
// oriented short × long (transposed when transpose = 1); slot (max V at +3, Σ (V / max V)² at +4),
// record, k_min, k_cap, key = the Gaussian key, l, taken = columns of Ω taken from U_prev (the warm
// start; 0 for none), threshold = ξ_thr, u_stride = U_prev's row stride. Ω is drawn as
// sketch_gaussian / sketch_warm draw it, the products (fs_product) compute the skinny kernel's,
// the QR and eigensolver are the ones above. srsi_small takes one matrix from its uniforms; srsi_batch takes one matrix per
// workgroup from a table (several matrices in ONE dispatch, so that the driver can spread them over
// its cores and the step pays one dispatch for all of them): there V, U_prev and the sketch sit at
// offsets v0, u0 and s0 of buffers shared by the batch.

struct SrsiSmallParams {
  short: u32,
  long: u32,
  cols: u32,
  w: u32,
  transpose: u32,
  slot: u32,
  record: u32,
  k_min: u32,
  k_cap: u32,
  key: u32,
  l: u32,
  taken: u32,
  threshold: f32,
  u_stride: u32,
}

@group(0) @binding(0) var<uniform> srp: SrsiSmallParams;

// Writable for srsi_batch, which leaves the rotated factors in V's place (srsi_run).
@group(0) @binding(3) var<storage, read_write> fs_v: array<f32>;
@group(0) @binding(4) var<storage, read> fs_u: array<f32>;

// One matrix's S-RSI: SrsiSmallParams' fields, then where its V (fs_v), U_prev (fs_u) and sketch
// (sk) start. Passed by value from the entry points, so that loops over its fields stay uniform.
struct SrsiJob {
  short: u32,
  long: u32,
  cols: u32,
  w: u32,
  transpose: u32,
  slot: u32,
  record: u32,
  k_min: u32,
  k_cap: u32,
  key: u32,
  l: u32,
  taken: u32,
  threshold: f32,
  u_stride: u32,
  v0: u32,
  s0: u32,
  u0: u32,
  out_stride: u32,
}

// C (out × w at c0 of the sketch) = inv·op(V)·B with B (inner × w at b0): op(V) = V (short × long)
// or, with `vt`, Vᵀ. Each invocation holds an 8 × 8 block of C in registers, as the direct matmul
// does (kernels/matmulDirect.wgsl, docs/engine.md): on a CPU driver (SwiftShader) a load whose
// address depends on the invocation is a gather behind a bounds check, and a block of R × C costs
// R + C of them per step along the inner dimension for R·C multiply-adds: 8 × 8 takes 16 for 64,
// where the 4 × 4 blocks of 4-lane groups this replaced took 8 for 16 (measured on the tiny
// preset's S-RSI batch: 55 → 45 ms at workgroups of 8, 83 → 75 at 64; bench/README.md). Each entry
// is still summed serially along the inner dimension. Row indices past the last are clamped, and
// reads past column w − 1 land in B's next row or in what follows B in the sketch; both are dropped.
fn fs_product(t: u32, job: SrsiJob, out: u32, inner: u32, b0: u32, c0: u32, vt: bool, inv: f32) {
  let w = job.w;
  let cblocks = (w + 7u) / 8u;
  let tasks = ((out + 7u) / 8u) * cblocks;
  let last = out - 1u;
  let stored_rows = vt != (job.transpose == 1u);
  let row_step = select(job.cols, 1u, stored_rows);
  let inner_step = select(1u, job.cols, stored_rows);
  for (var id = t; id < tasks; id += WG) {
    let r0 = (id / cblocks) * 8u;
    let k0 = (id % cblocks) * 8u;
    let ra = clamp4(r0, last) * row_step;
    let rb = clamp4(r0 + 4u, last) * row_step;
    var acc = array<vec4<f32>, 16>();
    for (var j = 0u; j < inner; j++) {
      let p = job.v0 + j * inner_step;
      let bi = b0 + j * w + k0;
      block_step(
        &acc,
        vec4<f32>(fs_v[p + ra.x], fs_v[p + ra.y], fs_v[p + ra.z], fs_v[p + ra.w]),
        vec4<f32>(fs_v[p + rb.x], fs_v[p + rb.y], fs_v[p + rb.z], fs_v[p + rb.w]),
        vec4<f32>(sk[bi], sk[bi + 1u], sk[bi + 2u], sk[bi + 3u]),
        vec4<f32>(sk[bi + 4u], sk[bi + 5u], sk[bi + 6u], sk[bi + 7u]),
      );
    }
    block_store(&acc, c0, r0, out, k0, w, inv);
  }
}

// `batched`: U_prev is read from V's buffer (fs_v at u0; srsi_small reads it from fs_u), and the new
// factors are left, rotated, in V's place (srsi_rotate).
fn srsi_run(t: u32, job: SrsiJob, batched: bool) {
  let short = job.short;
  let long = job.long;
  let w = job.w;
  let s0 = job.s0;
  let y0 = s0 + long * w;
  let g0 = y0 + short * w;
  let top = sc[job.slot + 3u];
  let inv = select(1.0, 1.0 / top, top > 0.0);
  // Element e = row·w + col, stepped by WG without an integer division per element.
  let row_step = WG / w;
  let col_step = WG % w;
  var row = t / w;
  var col = t % w;
  for (var e = t; e < long * w; e += WG) {
    if (col < job.taken) {
      let at = job.u0 + row * job.u_stride + col;
      if (batched) {
        sk[s0 + e] = fs_v[at] * inv;
      } else {
        sk[s0 + e] = fs_u[at] * inv;
      }
    } else {
      sk[s0 + e] = gaussian(job.key, e);
    }
    row += row_step;
    col += col_step;
    if (col >= w) {
      col -= w;
      row++;
    }
  }
  storageBarrier();
  for (var it = 0u; it < job.l; it++) {
    // Y = V·Ω / max V.
    fs_product(t, job, short, long, s0, y0, false, inv);
    storageBarrier();
    qr(t, short, w, y0, g0, s0, select(0u, 2u, it + 1u == job.l));
    // U = Vᵀ·Q / max V, into Ω's place.
    fs_product(t, job, long, short, y0, s0, true, inv);
    storageBarrier();
  }
  eigen(t, long, w, s0, g0, job.slot, job.record, job.k_min, job.k_cap, job.threshold);
  if (batched) {
    storageBarrier();
    srsi_rotate(t, job, top);
  }
}

// The new factors of a batched matrix at its chosen rank k, computed as rotate_factors computes them
// (below; the same products in the same order), into V's place, which the S-RSI no longer reads:
// Q' (short × stride) at v0, then U' (long × stride), row-major, stride = out_stride, or k where
// that is 0; columns k…stride − 1 are zeroed. The host copies them into Q and U once it has read
// the ranks back, so a batched matrix needs no rotation dispatch of its own. Each invocation takes
// an 8 × 8 block of the output (fs_product's blocking): per step along w, 8 loads of the sketch's
// rows and 8 of E for 64 multiply-adds.
fn srsi_rotate(t: u32, job: SrsiJob, top: f32) {
  let w = job.w;
  let short = job.short;
  let y0 = job.s0 + job.long * w;
  let es0 = y0 + short * w + 2u * w * w;
  let k = u32(sc[job.record + w + 1u]);
  let stride = select(job.out_stride, k, job.out_stride == 0u);
  let rows = short + job.long;
  let last = rows - 1u;
  let cblocks = (stride + 7u) / 8u;
  // E's columns past k − 1 are read from column k − 1 (or 0) and their outputs zeroed.
  let klast = max(k, 1u) - 1u;
  for (var id = t; id < ((rows + 7u) / 8u) * cblocks; id += WG) {
    let r0 = (id / cblocks) * 8u;
    let k0 = (id % cblocks) * 8u;
    // Row r of the output reads row r of Q (r < short) or row r − short of U.
    let ra = clamp4(r0, last);
    let rb = clamp4(r0 + 4u, last);
    let short4 = vec4<u32>(short);
    let ba = select(vec4<u32>(y0) + ra * w, vec4<u32>(job.s0) + (ra - short4) * w, ra >= short4);
    let bb = select(vec4<u32>(y0) + rb * w, vec4<u32>(job.s0) + (rb - short4) * w, rb >= short4);
    let ka = clamp4(k0, klast);
    let kb = clamp4(k0 + 4u, klast);
    var acc = array<vec4<f32>, 16>();
    for (var c = 0u; c < w; c++) {
      let e = es0 + c * w;
      block_step(
        &acc,
        vec4<f32>(sk[ba.x + c], sk[ba.y + c], sk[ba.z + c], sk[ba.w + c]),
        vec4<f32>(sk[bb.x + c], sk[bb.y + c], sk[bb.z + c], sk[bb.w + c]),
        vec4<f32>(sk[e + ka.x], sk[e + ka.y], sk[e + ka.z], sk[e + ka.w]),
        vec4<f32>(sk[e + kb.x], sk[e + kb.y], sk[e + kb.z], sk[e + kb.w]),
      );
    }
    for (var j = 0u; j < 8u && k0 + j < stride; j++) {
      let col = k0 + j;
      for (var i = 0u; i < 8u && r0 + i < rows; i++) {
        let x = acc[select(0u, 8u, i >= 4u) + j][i & 3u];
        let scaled = select(x, top * x, r0 + i >= short && top > 0.0);
        fs_v[job.v0 + (r0 + i) * stride + col] = select(0.0, scaled, col < k);
      }
    }
  }
}

@compute @workgroup_size(WG)
fn srsi_small(@builtin(local_invocation_index) t: u32) {
  let job = SrsiJob(
    srp.short,
    srp.long,
    srp.cols,
    srp.w,
    srp.transpose,
    srp.slot,
    srp.record,
    srp.k_min,
    srp.k_cap,
    srp.key,
    srp.l,
    srp.taken,
    srp.threshold,
    srp.u_stride,
    0u,
    0u,
    0u,
    0u,
  );
  srsi_run(t, job, false);
}

// first = where the batch's first entry starts in the bound table (in words), matrices = its
// entries (one workgroup each).
struct SrsiBatchParams {
  first: u32,
  matrices: u32,
}

@group(0) @binding(0) var<uniform> sbp: SrsiBatchParams;

// SRSI_TABLE_WORDS words per matrix: SrsiJob's fields in order (threshold as its f32 bits).
const SRSI_TABLE_WORDS: u32 = 18u;
@group(0) @binding(5) var<storage, read> sb_table: array<u32>;

@compute @workgroup_size(WG)
fn srsi_batch(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  if (wg.x >= sbp.matrices) {
    return;
  }
  let b = sbp.first + wg.x * SRSI_TABLE_WORDS;
  let job = SrsiJob(
    sb_table[b],
    sb_table[b + 1u],
    sb_table[b + 2u],
    sb_table[b + 3u],
    sb_table[b + 4u],
    sb_table[b + 5u],
    sb_table[b + 6u],
    sb_table[b + 7u],
    sb_table[b + 8u],
    sb_table[b + 9u],
    sb_table[b + 10u],
    sb_table[b + 11u],
    bitcast<f32>(sb_table[b + 12u]),
    sb_table[b + 13u],
    sb_table[b + 14u],
    sb_table[b + 15u],
    sb_table[b + 16u],
    sb_table[b + 17u],
  );
  srsi_run(t, job, true);
}

// ---- The new factors from the sketch, in singular-vector order and at the chosen rank k:
// Q' = Q·E_k (short × k) and U' = max V · U·E_k (long × k; U was formed from V / max V), each
// row-major with row length `stride` (columns k…stride−1 are zeroed).
// n = (short + long)·stride elements, 8 per invocation; short, w, k, e = the sorted E (in the
// sketch's work), slot = the scalar slot (max V at +3), u = U, q = Q (offsets in the sketch).

struct RotateParams {
  n: u32,
  stride: u32,
  short: u32,
  w: u32,
  k: u32,
  e: u32,
  slot: u32,
  u: u32,
  q: u32,
}

@group(0) @binding(0) var<uniform> rfp: RotateParams;

@group(0) @binding(3) var<storage, read_write> ro_qo: array<f32>;
@group(0) @binding(4) var<storage, read_write> ro_uo: array<f32>;

@compute @workgroup_size(256)
fn rotate_factors(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let stride = rfp.stride;
  let w = rfp.w;
  let top = sc[rfp.slot + 3u];
  let split = rfp.short * stride;
  for (var r = 0u; r < 8u; r++) {
    let i = (wg.x + wg.y * groups.x) * 2048u + r * 256u + t;
    if (i < rfp.n) {
      let on_u = i >= split;
      let local = select(i, i - split, on_u);
      let row = local / stride;
      let col = local % stride;
      let base = select(rfp.q, rfp.u, on_u) + row * w;
      var acc = 0.0;
      if (col < rfp.k) {
        for (var c = 0u; c < w; c++) {
          acc += sk[base + c] * sk[rfp.e + c * w + col];
        }
      }
      if (on_u) {
        ro_uo[local] = select(acc, top * acc, top > 0.0);
      } else {
        ro_qo[local] = acc;
      }
    }
  }
}
