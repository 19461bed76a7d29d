// What both matmul kernels (matmul.wgsl, matmulDirect.wgsl) share, put in front of each by
// kernels/matmul.ts after halfStorage.wgsl: reading an element of B whatever its storage, which
// tile of C a workgroup computes, how an element of C is stored (beta), and the uniform block,
// overrides and bindings the two kernels take alike. Each kernel declares its own TILE; WGSL
// resolves module-scope names in any order.

struct Params {
  m: u32,
  n: u32,
  k: u32,
  lda: u32,
  ldb: u32,
  ldc: u32,
  off_a: u32,
  off_b: u32,
  off_c: u32,
  alpha: f32,
  beta: f32,
  // Number of TILE-wide tile columns (ceil(n / TILE)), for mapping a folded 1-D grid to tiles.
  tiles_n: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override SYMMETRIC: bool = false;
override B_TYPE: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
// Read as words: f32 values are reinterpreted bit for bit, packed ones decoded.
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn b_element(e: u32) -> f32 {
  if (B_TYPE == 0u) {
    return bitcast<f32>(b[e]);
  }
  return unpack_half(b[e >> 1u], (e & 1u) == 1u, B_TYPE == 2u);
}

// Maps a linear tile index onto the upper triangle: index = tj·(tj+1)/2 + ti with ti ≤ tj.
fn triangular_tile(index: u32) -> vec2<u32> {
  var tj = u32((sqrt(8.0 * f32(index) + 1.0) - 1.0) * 0.5);
  // The f32 square root can be off by one for large indices; correct it in integers.
  while (tj * (tj + 1u) / 2u > index) {
    tj -= 1u;
  }
  while ((tj + 1u) * (tj + 2u) / 2u <= index) {
    tj += 1u;
  }
  return vec2<u32>(index - tj * (tj + 1u) / 2u, tj);
}

// The (row, column) tile of C that workgroup `linear` computes: with SYMMETRIC the tiles on and
// above the diagonal, otherwise every tile, row by row.
fn tile_of(linear: u32) -> vec2<u32> {
  if (SYMMETRIC) {
    return triangular_tile(linear);
  }
  return vec2<u32>(linear / p.tiles_n, linear % p.tiles_n);
}

fn store_c(index: u32, product: f32) {
  // beta = 0 must overwrite without reading: C may hold garbage (even NaN) on entry.
  if (p.beta == 0.0) {
    c[index] = product;
  } else {
    c[index] = product + p.beta * c[index];
  }
}
