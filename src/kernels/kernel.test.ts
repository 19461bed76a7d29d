import { describe, expect, it } from 'vitest';
import { defineKernel } from './kernel';
import { freshSeed, Random } from './random';

const code = `
// A comment that mentions struct Decoy { x: f32 } must not count.
struct Params {
  rows: u32,
  cols: u32,
  scale: f32,
}
struct Other {
  count: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(0) var<uniform> q: Other;
@group(0) @binding(1) var<storage, read_write> data: array<f32>;

fn scaled(i: u32) -> f32 {
  return data[i] * p.scale;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < p.rows * p.cols) {
    data[gid.x] = scaled(gid.x);
  }
}

@compute @workgroup_size(64)
fn count_only(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < q.count) {
    data[gid.x] = 0.0;
  }
}

@compute @workgroup_size(1)
fn both() {
  data[0] = f32(q.count) + p.scale;
}

@compute @workgroup_size(1)
fn none() {
  data[0] = 1.0;
}
`;

const declare = <const F extends Record<string, 'u32' | 'f32'>>(uniforms: F, entryPoints?: string[]) =>
  defineKernel({ name: 'kernel test', code, uniforms, ...(entryPoints ? { entryPoints } : {}) });

describe('a kernel declaration', () => {
  it('packs fresh random values by name into their WGSL slots, 16-byte rounded', () => {
    const seed = freshSeed();
    const r = new Random(seed);
    const random = () => r.next();
    const kernel = declare({ rows: 'u32', cols: 'u32', scale: 'f32' });
    const rows = Math.floor(random() * 2 ** 32);
    const cols = Math.floor(random() * 1000);
    const scale = Math.fround((random() - 0.5) * 1e3);
    // Given out of order: the struct's order decides where each lands.
    const view = new DataView(kernel.pack({ scale, cols, rows }));
    expect(view.byteLength, `seed ${seed}`).toBe(16);
    expect([view.getUint32(0, true), view.getUint32(4, true), view.getFloat32(8, true)]).toEqual([
      rows,
      cols,
      scale,
    ]);
  });

  it('refuses missing, extra, non-numeric and non-u32 values, naming the kernel and field', () => {
    const kernel = declare({ rows: 'u32', cols: 'u32', scale: 'f32' });
    const pack = (values: Record<string, unknown>) => () => kernel.pack(values as never);
    expect(pack({ rows: 1, scale: 1 })).toThrow(/kernel test.*"cols" is missing/);
    expect(pack({ rows: 1, cols: 2, scale: 1, colz: 3 })).toThrow(/kernel test.*unknown uniform field colz/);
    expect(pack({ rows: 1, cols: '2', scale: 1 })).toThrow(/kernel test.*"cols" = 2 is not a number/);
    expect(pack({ rows: -1, cols: 2, scale: 1 })).toThrow(/kernel test.*"rows" = -1 is not a u32/);
    expect(pack({ rows: 1.5, cols: 2, scale: 1 })).toThrow(/"rows" = 1.5 is not a u32/);
    expect(pack({ rows: 2 ** 32, cols: 2, scale: 1 })).toThrow(/"rows" = 4294967296 is not a u32/);
  });

  it('follows helper functions to the block an entry point reads', () => {
    // main reads p.scale only through scaled(): the check must still find Params.
    expect(() => declare({ rows: 'u32', cols: 'u32', scale: 'f32' }).check()).not.toThrow();
    expect(() => declare({ count: 'u32' }, ['count_only']).check()).not.toThrow();
    expect(() => declare({}, ['none']).check()).not.toThrow();
  });

  it('throws naming the field when the declaration and the WGSL struct disagree', () => {
    expect(() => declare({ rows: 'u32', columns: 'u32', scale: 'f32' }).check()).toThrow(
      /kernel test\/main: uniform field 1 is "cols: u32" in the WGSL struct Params but "columns: u32"/,
    );
    expect(() => declare({ rows: 'u32', cols: 'u32', scale: 'u32' }).check()).toThrow(
      /field 2 is "scale: f32" .* but "scale: u32"/,
    );
    expect(() => declare({ cols: 'u32', rows: 'u32', scale: 'f32' }).check()).toThrow(
      /field 0 is "rows: u32"/,
    );
    expect(() => declare({ rows: 'u32', cols: 'u32' }).check()).toThrow(
      /field 2 is "scale: f32" .* but nothing/,
    );
    expect(() => declare({ rows: 'u32', cols: 'u32', scale: 'f32', extra: 'f32' }).check()).toThrow(
      /field 3 is nothing in the WGSL struct Params but "extra: f32"/,
    );
    // The check runs at first use too, before anything is packed.
    expect(() => declare({ rows: 'u32' }).pack({ rows: 1 })).toThrow(/field 1 is "cols: u32"/);
  });

  it('throws for a missing entry point, two blocks in one entry point, and an undeclared block', () => {
    expect(() => declare({ count: 'u32' }, ['absent']).check()).toThrow(/no @compute entry point "absent"/);
    expect(() => declare({ count: 'u32' }, ['both']).check()).toThrow(/exactly one uniform block.*reads 2/);
    expect(() => declare({}, ['count_only']).check()).toThrow(
      /declared without uniforms but the WGSL reads q/,
    );
    expect(() => declare({ count: 'u32' }, ['none']).check()).toThrow(/reads 0/);
  });
});
