// What both norm kernels (norm.wgsl, normRow.wgsl) take alike, put in front of each by
// kernels/norm.ts: the uniform block and the bindings of layer_norm (ln_*) and rms_norm (rms_*).

struct Params {
  rows: u32,
  width: u32,
  ld_x: u32,
  ld_y: u32,
  off_x: u32,
  off_y: u32,
  off_g: u32,
  off_b: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> ln_x: array<f32>;
@group(0) @binding(2) var<storage, read> ln_g: array<f32>;
@group(0) @binding(3) var<storage, read> ln_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> ln_y: array<f32>;

@group(0) @binding(1) var<storage, read> rms_x: array<f32>;
@group(0) @binding(2) var<storage, read> rms_g: array<f32>;
@group(0) @binding(3) var<storage, read_write> rms_y: array<f32>;
