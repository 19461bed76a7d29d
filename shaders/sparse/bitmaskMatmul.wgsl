// Y = X·Wᵀ for a bitmask-unstructured W (rows × cols, src/sparse/bitmaskFormat.ts) and X tokens ×
// cols, the layout of a linear layer: Y[t, r] = Σ W[r, c] · X[t, c] over the columns c stored in
// row r only. A workgroup computes a tile of 128 rows of W × 32 tokens, so W's mask words and values
// are read once per tile of tokens instead of once per token (bitmaskMatvec run token by token).
//
// The workgroup stages X 64 columns (two mask words) at a time in workgroup memory, column-major
// with four tokens to a vec4: xs[c · 8 + q] holds tokens 4q … 4q + 3 of column c. Two invocations
// share a row (neighbours, so their loops over the row's bits do not diverge), each owning 16 of the
// 32 tokens: it walks its row's set bits in the chunk (lowest first, as the values are packed),
// reads each value once and multiplies it into four vec4 accumulators. 16 tokens per decoded bit
// because on SwiftShader the bit walk costs as much as the arithmetic: OPT-125M's fc1 (3072×768)
// over 32 tokens took 0.6–0.8 of the dense matmul's time this way, against 1.5 with 4 tokens on
// each of 8 lanes (32-row tiles). A row tile of 128 still gives that matrix 24 workgroups per 32
// tokens. Each Y entry is one invocation's serial sum over its row's stored entries in column order.

struct Params {
  tokens: u32,
  // Rows of W in this block, the width of one row, and its mask words.
  rows: u32,
  cols: u32,
  words: u32,
  // Leading dimension of Y (the layer's output width).
  ld_y: u32,
  // Element offsets inside the bindings: the block's first mask word and row offset, X and Y.
  off_m: u32,
  off_o: u32,
  off_x: u32,
  off_y: u32,
  // Binding of values: element (row offset − first_value + off_v) holds a row's first value.
  off_v: u32,
  first_value: u32,
  // 1: Y += X·Wᵀ; 0: Y = X·Wᵀ.
  acc: u32,
  // Tiles along W's rows, to split the flat tile index.
  row_tiles: u32,
}

// Invocations per row, quads of tokens per invocation, rows per tile (bitmaskMatmul.ts's TILE_ROWS),
// tokens per tile and quads per staged column.
const LANES: u32 = 2u;
const QPL: u32 = 4u;
const TILE_R: u32 = 256u / LANES;
const TILE_T: u32 = 32u;
const QUADS: u32 = TILE_T / 4u;
const CHUNK_WORDS: u32 = 2u;
const CHUNK: u32 = 64u;
const GROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> mask: array<u32>;
@group(0) @binding(2) var<storage, read> row_offsets: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

// CHUNK columns × QUADS quads of tokens: 8 KiB.
var<workgroup> xs: array<vec4<f32>, 512>;

@compute @workgroup_size(256)
fn bitmask_matmul(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wg.x + wg.y * groups.x;
  // Uniform: the tile is the workgroup's.
  if (tile >= p.row_tiles * ((p.tokens + TILE_T - 1u) / TILE_T)) {
    return;
  }
  let lane = lid % LANES;
  let row = (tile % p.row_tiles) * TILE_R + lid / LANES;
  let t0 = (tile / p.row_tiles) * TILE_T;
  // A row past the block walks no bits but still stages X and reaches every barrier.
  let live = row < p.rows;
  let first_w = p.off_m + row * p.words;
  var v = 0u;
  if (live) {
    v = p.off_v + row_offsets[p.off_o + row] - p.first_value;
  }
  var acc: array<vec4<f32>, QPL>;
  for (var w0 = 0u; w0 < p.words; w0 += CHUNK_WORDS) {
    let c0 = w0 * 32u;
    // Consecutive invocations read consecutive columns of one token: coalesced loads of X.
    for (var e = lid; e < CHUNK * QUADS; e += GROUP) {
      let c = e % CHUNK;
      let quad = e / CHUNK;
      var q = vec4<f32>(0.0);
      if (c0 + c < p.cols) {
        let t = t0 + quad * 4u;
        let at = p.off_x + c0 + c;
        for (var j = 0u; j < 4u; j++) {
          if (t + j < p.tokens) {
            q[j] = x[at + (t + j) * p.cols];
          }
        }
      }
      xs[c * QUADS + quad] = q;
    }
    workgroupBarrier();
    if (live) {
      let w1 = min(w0 + CHUNK_WORDS, p.words);
      for (var w = w0; w < w1; w++) {
        var bits = mask[first_w + w];
        let base = (w - w0) * 32u;
        while (bits != 0u) {
          let c = base + countTrailingZeros(bits);
          let value = values[v];
          for (var k = 0u; k < QPL; k++) {
            acc[k] += value * xs[c * QUADS + lane * QPL + k];
          }
          v++;
          bits &= bits - 1u;
        }
      }
    }
    workgroupBarrier();
  }
  if (!live) {
    return;
  }
  for (var k = 0u; k < QPL; k++) {
    for (var q = 0u; q < 4u; q++) {
      let token = t0 + (lane * QPL + k) * 4u + q;
      if (token < p.tokens) {
        let i = p.off_y + token * p.ld_y + row;
        y[i] = select(acc[k][q], y[i] + acc[k][q], p.acc != 0u);
      }
    }
  }
}
