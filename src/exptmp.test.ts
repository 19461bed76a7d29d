import { it } from 'vitest';
import { createNodeRuntime } from './host/nodeGpu';
import { matmul } from './kernels/matmul';
import { packParams } from './kernels/params';
const direct = (R: number, C: number, WG: number) => `
struct P { m: u32, n: u32, k: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let blocksN = (p.n + ${C - 1}u) / ${C}u;
  let id = gid.x;
  let i0 = (id / blocksN) * ${R}u;
  let j0 = (id % blocksN) * ${C}u;
  if (i0 >= p.m) { return; }
  var acc: array<array<f32, ${C}>, ${R}>;
  for (var kk = 0u; kk < p.k; kk++) {
    var av: array<f32, ${R}>;
    for (var r = 0u; r < ${R}u; r++) { av[r] = select(0.0, a[min(i0 + r, p.m - 1u) * p.k + kk], i0 + r < p.m); }
    for (var cc = 0u; cc < ${C}u; cc++) {
      let bv = b[min(j0 + cc, p.n - 1u) * p.k + kk];
      for (var r = 0u; r < ${R}u; r++) { acc[r][cc] = fma(av[r], bv, acc[r][cc]); }
    }
  }
  for (var r = 0u; r < ${R}u; r++) { for (var cc = 0u; cc < ${C}u; cc++) {
    if (i0 + r < p.m && j0 + cc < p.n) { c[(i0 + r) * p.n + j0 + cc] = acc[r][cc]; } } }
}`;
it('shapes', async () => {
  const rt = await createNodeRuntime();
  const buf = async (n: number) => (await rt.createBuffer('x', 'scratch', 4 * n)).buffer;
  const big = await buf(1 << 22); const big2 = await buf(1 << 22); const out = await buf(1 << 22);
  const cases: [number, number, number][] = [[128,64,64],[128,172,64],[128,64,172],[128,128,8],[128,512,64],[1024,64,64],[512,512,512]];
  const variants: [number, number, number][] = [[4,4,64],[4,4,16],[2,4,64],[1,4,64],[4,8,64]];
  for (const [m, n, k] of cases) {
    const time = async (f: () => Promise<void>) => { await f(); await rt.sync(); const t0 = performance.now(); for (let i = 0; i < 5; i++) await f(); await rt.sync(); return (performance.now() - t0) / 5; };
    const tile = await time(() => matmul(rt, { a: big, b: big2, c: out, m, n, k, transB: true }));
    let line = `${m}x${n}x${k}: tile ${tile.toFixed(2)} ms`;
    for (const [R, C, WG] of variants) {
      const pipeline = await rt.pipeline({ name: `direct${R}${C}${WG}`, code: direct(R, C, WG) });
      const blocks = Math.ceil(m / R) * Math.ceil(n / C);
      const ms = await time(async () => rt.submit([{ pipeline, uniforms: packParams([['u32', m], ['u32', n], ['u32', k]]), storage: [big, big2, out], workgroups: [Math.ceil(blocks / WG)] }]));
      line += ` | ${R}x${C}/${WG} ${ms.toFixed(2)} (${(tile / ms).toFixed(1)}x)`;
    }
    console.log(line);
  }
  rt.destroy();
}, 600000);
