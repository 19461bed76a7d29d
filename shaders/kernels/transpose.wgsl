// out = inᵀ for a rows × cols window of a row-major matrix. A 16×16 tile goes through workgroup
// memory so that both the reads and the writes touch consecutive addresses; the tile row is padded
// to 17 to keep the transposed reads off a single memory bank.

struct Params {
  rows: u32,
  cols: u32,
  ld_in: u32,
  ld_out: u32,
  off_in: u32,
  off_out: u32,
  tiles_c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

var<workgroup> tile: array<f32, 272>; // 16 × 17

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let linear = wg.x + wg.y * groups.x;
  let r0 = (linear / p.tiles_c) * 16u;
  let c0 = (linear % p.tiles_c) * 16u;
  let r = r0 + lid.y;
  let c = c0 + lid.x;
  if (r < p.rows && c < p.cols) {
    tile[lid.y * 17u + lid.x] = input[p.off_in + r * p.ld_in + c];
  }
  workgroupBarrier();
  // Row index of the output = column of the input.
  let orow = c0 + lid.y;
  let ocol = r0 + lid.x;
  if (orow < p.cols && ocol < p.rows) {
    output[p.off_out + orow * p.ld_out + ocol] = tile[lid.x * 17u + lid.y];
  }
}
