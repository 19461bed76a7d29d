// C = alpha · op(A) · op(B) + beta · C, computed in f32, with op(X) = X or Xᵀ chosen per pipeline.
//
// Each 16×16 workgroup computes a 64×64 tile of C: the A and B panels for 16 steps of k are staged
// in workgroup memory, and each invocation keeps a 4×4 block of C in registers (register blocking),
// so every value read from workgroup memory feeds four multiply-adds instead of one. Invocations
// own rows ly, ly+16, ly+32, ly+48 and the matching columns, so neighbouring invocations write
// neighbouring addresses of C.
//
// The operands are windows of larger buffers (offset + leading dimension), which lets the wrapper
// split a product whose matrices exceed maxStorageBufferBindingSize into sub-products that fit.
//
// SYMMETRIC computes only the tiles on and above the diagonal and mirrors them: valid when op(A)·op(B)
// is symmetric, as for the Gram matrix XᵀX (A = B = X, TRANS_A). It halves the work of the
// statistic every pruner accumulates.
//
// B_TYPE says how B is stored (0 f32, 1 f16, 2 bf16; see halfStorage.wgsl, which the wrapper puts in
// front of this file with matmulShared.wgsl, where the uniform block, overrides and bindings are
// declared for both kernels): half-precision weights stay packed two per word and are decoded as the B
// panel is staged, so the product itself is f32 either way. B's off_b and ldb count elements, not
// words, whatever its storage.

const TILE: u32 = 64u;
const TK: u32 = 16u;

// Both panels are stored k-major so the inner loop reads a row of each.
var<workgroup> panel_a: array<f32, 1024>; // [TK][TILE]
var<workgroup> panel_b: array<f32, 1024>; // [TK][TILE]

fn load_a(i: u32, kk: u32) -> f32 {
  if (i >= p.m || kk >= p.k) {
    return 0.0;
  }
  if (TRANS_A) {
    return a[p.off_a + kk * p.lda + i];
  }
  return a[p.off_a + i * p.lda + kk];
}

fn load_b(kk: u32, j: u32) -> f32 {
  if (kk >= p.k || j >= p.n) {
    return 0.0;
  }
  if (TRANS_B) {
    return b_element(p.off_b + j * p.ldb + kk);
  }
  return b_element(p.off_b + kk * p.ldb + j);
}

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let tile = tile_of(wg.x + wg.y * groups.x);
  let tile_row = tile.x;
  let tile_col = tile.y;
  let row0 = tile_row * TILE;
  let col0 = tile_col * TILE;
  // A folded grid may carry a few workgroups past the last tile. They must still reach every
  // barrier below (the loads are bounds-checked), so they only skip the write.
  let live = row0 < p.m && col0 < p.n;
  let t = lid.y * 16u + lid.x;

  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += TK) {
    for (var r = 0u; r < 4u; r++) {
      let idx = t + r * 256u;
      // Consecutive invocations read consecutive addresses of whichever layout A has.
      var i: u32;
      var kk: u32;
      if (TRANS_A) {
        i = idx % TILE;
        kk = idx / TILE;
      } else {
        kk = idx % TK;
        i = idx / TK;
      }
      panel_a[kk * TILE + i] = load_a(row0 + i, k0 + kk);
      var j: u32;
      var kb: u32;
      if (TRANS_B) {
        kb = idx % TK;
        j = idx / TK;
      } else {
        j = idx % TILE;
        kb = idx / TILE;
      }
      panel_b[kb * TILE + j] = load_b(k0 + kb, col0 + j);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let base = kk * TILE;
      let av = vec4<f32>(panel_a[base + lid.y], panel_a[base + lid.y + 16u], panel_a[base + lid.y + 32u], panel_a[base + lid.y + 48u]);
      let bv = vec4<f32>(panel_b[base + lid.x], panel_b[base + lid.x + 16u], panel_b[base + lid.x + 32u], panel_b[base + lid.x + 48u]);
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
    }
    workgroupBarrier();
  }

  if (!live) {
    return;
  }
  let mirror = SYMMETRIC && tile_row != tile_col;
  for (var r = 0u; r < 4u; r++) {
    let i = row0 + lid.y + r * 16u;
    for (var q = 0u; q < 4u; q++) {
      let j = col0 + lid.x + q * 16u;
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

