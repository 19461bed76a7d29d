// C = alpha · op(A) · op(B) + beta · C, in f32: the variant for CPU adapters (SwiftShader), chosen by
// matmulKernel.ts. It takes the same Params and bindings as matmul.wgsl, which the wrapper shares.
//
// Why a second kernel: on a CPU adapter a whole workgroup runs on one thread, and every
// workgroupBarrier makes it switch between all of its emulated invocations. The tiled kernel pays
// two barriers per 16 steps of k for 256 invocations, so at this project's small widths (hidden 64,
// MLP 172) its 64×64 tiles run at a fraction of the adapter's best rate, and a product with few
// tiles keeps one of the cores idle. Here there is no workgroup memory and no barrier: each
// invocation keeps a 4×4 block of C in registers and reads its rows of op(A) and columns of op(B)
// straight from the storage buffers (the CPU's caches do what the panels do on a GPU). A workgroup
// of 8×8 invocations covers a 32×32 tile, so a product has four times as many workgroups as with
// the tiled kernel, spread over the cores.
//
// Invocation (lx, ly) owns rows ly, ly+8, ly+16, ly+24 and columns lx, lx+8, lx+16, lx+24 of its
// tile: neighbouring invocations (which SwiftShader runs side by side in SIMD lanes) read and write
// neighbouring columns. Rows and columns past the edge are clamped onto the last valid one, so the
// k loop has no bounds checks; their results are simply not written.
//
// SYMMETRIC, B_TYPE and the operand windows (offsets, leading dimensions) mean what they mean in
// matmul.wgsl; halfStorage.wgsl (unpack_half) and matmulShared.wgsl (the uniform block,
// overrides and bindings) are put in front of this file by the wrapper.

const TILE: u32 = 32u;
const SIDE: u32 = 8u;

@compute @workgroup_size(8, 8)
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
  var a_at: array<u32, 4>;
  var b_at: array<u32, 4>;
  for (var r = 0u; r < 4u; r++) {
    let i = min(row0 + r * SIDE, p.m - 1u);
    a_at[r] = p.off_a + select(i * p.lda, i, TRANS_A);
    let j = min(col0 + r * SIDE, p.n - 1u);
    b_at[r] = p.off_b + select(j, j * p.ldb, TRANS_B);
  }
  let a_step = select(1u, p.lda, TRANS_A);
  let b_step = select(p.ldb, 1u, TRANS_B);

  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  var da = 0u;
  var db = 0u;
  for (var kk = 0u; kk < p.k; kk++) {
    let bv = vec4<f32>(b_element(b_at[0] + db), b_element(b_at[1] + db), b_element(b_at[2] + db), b_element(b_at[3] + db));
    acc0 += a[a_at[0] + da] * bv;
    acc1 += a[a_at[1] + da] * bv;
    acc2 += a[a_at[2] + da] * bv;
    acc3 += a[a_at[3] + da] * bv;
    da += a_step;
    db += b_step;
  }

  let mirror = SYMMETRIC && tile_row != tile_col;
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < 4u; r++) {
    let i = row0 + r * SIDE;
    for (var q = 0u; q < 4u; q++) {
      let j = col0 + q * SIDE;
      if (i < p.m && j < p.n) {
        let product = p.alpha * acc[r][q];
        store_c(p.off_c + i * p.ldc + j, product);
        if (mirror) {
          store_c(p.off_c + j * p.ldc + i, product);
        }
      }
    }
  }
}

