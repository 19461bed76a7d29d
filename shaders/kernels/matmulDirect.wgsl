// C = alpha · op(A) · op(B) + beta · C, in f32: the variant for CPU adapters (SwiftShader), chosen by
// matmulKernel.ts. It takes the same Params and bindings as matmul.wgsl, which the wrapper shares.
//
// Why a second kernel: on a CPU adapter a whole workgroup runs on one thread, and every
// workgroupBarrier makes it switch between all of its emulated invocations. The tiled kernel pays
// two barriers per 16 steps of k for 256 invocations, so at this project's small widths (hidden 64,
// MLP 172) its 64×64 tiles run at a fraction of the adapter's best rate, and a product with few
// tiles keeps one of the cores idle. Here there is no workgroup memory and no barrier: each
// invocation keeps an 8×8 block of C in registers and reads its rows of op(A) and columns of op(B)
// straight from the storage buffers (the CPU's caches do what the panels do on a GPU). A workgroup
// of 4×4 invocations covers a 32×32 tile, so a product has four times as many workgroups as with
// the tiled kernel, spread over the cores.
//
// Why 8×8 per invocation: SwiftShader runs invocations as SIMD lanes, and a storage load whose
// address depends on the invocation is a gather, one scalar load per lane behind a bounds check.
// Those gathers, not the multiply-adds, are the cost: a block of R×C costs R + C gathers per step
// of k for R·C multiply-adds, so the 4×4 block this kernel had (8 for 16) spent twice the loads per
// multiply-add of 8×8 (16 for 64). The 64 accumulators outgrow the CPU's vector registers, but a
// spill is one plain vector load or store, far cheaper than a gather. Measured on the model's
// products (bench/README.md, "Issue 14: the direct matmul's 8×8 block"): about a third less CPU time.
//
// Invocation (lx, ly) owns rows ly, ly+4, …, ly+28 and columns lx, lx+4, …, lx+28 of its tile:
// neighbouring invocations (which SwiftShader runs side by side in SIMD lanes) read and write
// neighbouring columns. Rows and columns past the edge are clamped onto the last valid one, so the
// k loop has no bounds checks; their results are simply not written. The accumulators are named
// registers rather than an array: SwiftShader's compiler keeps an array indexed in a loop in
// memory, every access a load or store per lane.
//
// SYMMETRIC, B_TYPE and the operand windows (offsets, leading dimensions) mean what they mean in
// matmul.wgsl; halfStorage.wgsl (unpack_half) and matmulShared.wgsl (the uniform block,
// overrides and bindings) are put in front of this file by the wrapper.

const TILE: u32 = 32u;
// Invocations along each side of the tile, and so the stride between an invocation's rows (columns).
const SIDE: u32 = 4u;

@compute @workgroup_size(4, 4)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let tile = tile_of(wg.x + wg.y * groups.x);
  let tile_row = tile.x;
  let tile_col = tile.y;
  let row0 = tile_row * TILE + lid.y;
  let col0 = tile_col * TILE + lid.x;
  // Without barriers an invocation with nothing to write (a folded grid's spare workgroups, the
  // edge of a ragged tile) can leave at once.
  if (row0 >= p.m || col0 >= p.n) {
    return;
  }

  // Element index of (row r, k = 0) in A and of (k = 0, column q) in B, and the step from one k to
  // the next: 1 along a stored row, the leading dimension across rows.
  var a_at: array<u32, 8>;
  var b_at: array<u32, 8>;
  for (var r = 0u; r < 8u; r++) {
    let i = min(row0 + r * SIDE, p.m - 1u);
    a_at[r] = p.off_a + select(i * p.lda, i, TRANS_A);
    let j = min(col0 + r * SIDE, p.n - 1u);
    b_at[r] = p.off_b + select(j, j * p.ldb, TRANS_B);
  }
  let a_step = select(1u, p.lda, TRANS_A);
  let b_step = select(p.ldb, 1u, TRANS_B);

  // Row r of the block is c<r>0 (its columns 0..3) and c<r>1 (columns 4..7).
  var c00 = vec4<f32>();
  var c01 = vec4<f32>();
  var c10 = vec4<f32>();
  var c11 = vec4<f32>();
  var c20 = vec4<f32>();
  var c21 = vec4<f32>();
  var c30 = vec4<f32>();
  var c31 = vec4<f32>();
  var c40 = vec4<f32>();
  var c41 = vec4<f32>();
  var c50 = vec4<f32>();
  var c51 = vec4<f32>();
  var c60 = vec4<f32>();
  var c61 = vec4<f32>();
  var c70 = vec4<f32>();
  var c71 = vec4<f32>();
  var da = 0u;
  var db = 0u;
  for (var kk = 0u; kk < p.k; kk++) {
    let b0 = vec4<f32>(b_element(b_at[0] + db), b_element(b_at[1] + db), b_element(b_at[2] + db), b_element(b_at[3] + db));
    let b1 = vec4<f32>(b_element(b_at[4] + db), b_element(b_at[5] + db), b_element(b_at[6] + db), b_element(b_at[7] + db));
    let a0 = a[a_at[0] + da];
    c00 += a0 * b0;
    c01 += a0 * b1;
    let a1 = a[a_at[1] + da];
    c10 += a1 * b0;
    c11 += a1 * b1;
    let a2 = a[a_at[2] + da];
    c20 += a2 * b0;
    c21 += a2 * b1;
    let a3 = a[a_at[3] + da];
    c30 += a3 * b0;
    c31 += a3 * b1;
    let a4 = a[a_at[4] + da];
    c40 += a4 * b0;
    c41 += a4 * b1;
    let a5 = a[a_at[5] + da];
    c50 += a5 * b0;
    c51 += a5 * b1;
    let a6 = a[a_at[6] + da];
    c60 += a6 * b0;
    c61 += a6 * b1;
    let a7 = a[a_at[7] + da];
    c70 += a7 * b0;
    c71 += a7 * b1;
    da += a_step;
    db += b_step;
  }

  let mirror = SYMMETRIC && tile_row != tile_col;
  let acc = array<vec4<f32>, 16>(
    c00, c01,
    c10, c11,
    c20, c21,
    c30, c31,
    c40, c41,
    c50, c51,
    c60, c61,
    c70, c71,
  );
  for (var r = 0u; r < 8u; r++) {
    let i = row0 + r * SIDE;
    for (var q = 0u; q < 8u; q++) {
      let j = col0 + q * SIDE;
      if (i < p.m && j < p.n) {
        let product = p.alpha * acc[2u * r + q / 4u][q % 4u];
        store_c(p.off_c + i * p.ldc + j, product);
        if (mirror) {
          store_c(p.off_c + j * p.ldc + i, product);
        }
      }
    }
  }
}
