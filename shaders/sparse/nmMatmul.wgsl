// Y = X·Wᵀ for an N:M compressed W (rows × cols, src/sparse/nmFormat.ts) and X tokens × cols, the
// layout of a linear layer (matmul's A·Bᵀ with B = W): Y[t, r] = Σ_k W[r, col(k)] · X[t, col(k)]
// over row r's kept entries only. A workgroup computes a tile of 32 rows of W × 32 tokens: it
// stages a chunk of X (32 tokens × at most 64 columns, whole groups) in workgroup memory, then
// invocation (row, lane) walks its row's kept entries in that chunk, reading each value and index
// once and using it for 4 tokens (lane, lane + 8, lane + 16, lane + 24). The products skipped are
// the pruned ones: (M − N) / M of a dense matmul's work.

override N: u32 = 2u;
override M: u32 = 4u;
override BITS: u32 = 2u;
override PER_WORD: u32 = 16u;

struct Params {
  tokens: u32,
  // Rows of W in this block, and the width of one row.
  rows: u32,
  cols: u32,
  // Kept values and index words per row.
  kept: u32,
  words: u32,
  // Leading dimension of Y (the layer's output width).
  ld_y: u32,
  // Element offsets of the block inside each binding.
  off_v: u32,
  off_i: u32,
  off_x: u32,
  off_y: u32,
  // 1: Y += X·Wᵀ; 0: Y = X·Wᵀ.
  acc: u32,
  // Tiles along W's rows, to split the flat tile index.
  row_tiles: u32,
}

const TILE_R: u32 = 32u;
const TILE_T: u32 = 32u;
const LANES: u32 = 8u;
const CHUNK: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> xs: array<f32, 2048>;

@compute @workgroup_size(256)
fn nm_matmul(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wg.x + wg.y * groups.x;
  // Uniform: the tile is the workgroup's.
  if (tile >= p.row_tiles * ((p.tokens + TILE_T - 1u) / TILE_T)) {
    return;
  }
  let r_local = lid % TILE_R;
  let lane = lid / TILE_R;
  let row = (tile % p.row_tiles) * TILE_R + r_local;
  let t0 = (tile / p.row_tiles) * TILE_T;
  let live = row < p.rows;
  // A row past the block reads row 0 and discards its sums, so every invocation reaches the barriers.
  let safe_row = select(0u, row, live);
  let first_v = p.off_v + safe_row * p.kept;
  let first_i = p.off_i + safe_row * p.words;
  let index_mask = (1u << BITS) - 1u;
  // Whole groups per staged chunk of X.
  let chunk_groups = CHUNK / M;
  let chunk_cols = chunk_groups * M;
  var acc = vec4<f32>(0.0);
  for (var g0 = 0u; g0 * M < p.cols; g0 += chunk_groups) {
    let c0 = g0 * M;
    for (var e = lid; e < TILE_T * chunk_cols; e += TILE_R * LANES) {
      let tt = e / chunk_cols;
      let c = e % chunk_cols;
      let token = t0 + tt;
      var v = 0.0;
      if (token < p.tokens && c0 + c < p.cols) {
        v = x[p.off_x + token * p.cols + c0 + c];
      }
      xs[tt * CHUNK + c] = v;
    }
    workgroupBarrier();
    // The chunk's first index is found once; the others follow slot by slot and group by group,
    // so the loop over kept values divides by nothing.
    let k0 = g0 * N;
    let k1 = min((g0 + chunk_groups) * N, p.kept);
    var word_at = first_i + k0 / PER_WORD;
    var slot = k0 % PER_WORD;
    var word = indices[word_at] >> (slot * BITS);
    var group_col = 0u;
    var in_group = 0u;
    for (var k = k0; k < k1; k++) {
      if (slot == PER_WORD) {
        word_at++;
        slot = 0u;
        word = indices[word_at];
      }
      let c = group_col + (word & index_mask);
      word >>= BITS;
      slot++;
      in_group++;
      if (in_group == N) {
        in_group = 0u;
        group_col += M;
      }
      let w = values[first_v + k];
      acc += w * vec4<f32>(
        xs[lane * CHUNK + c],
        xs[(lane + LANES) * CHUNK + c],
        xs[(lane + 2u * LANES) * CHUNK + c],
        xs[(lane + 3u * LANES) * CHUNK + c],
      );
    }
    workgroupBarrier();
  }
  if (!live) {
    return;
  }
  for (var q = 0u; q < 4u; q++) {
    let token = t0 + lane + q * LANES;
    if (token < p.tokens) {
      let i = p.off_y + token * p.ld_y + row;
      y[i] = select(acc[q], y[i] + acc[q], p.acc != 0u);
    }
  }
}
