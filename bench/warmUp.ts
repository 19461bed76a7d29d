// A GPU idles at low clocks and raises them only under sustained load (an H200 was recorded at
// 345 MHz idle and 1,980 MHz just after matrix products), so the first cases of a run would be timed
// on a slow chip and the later ones on a fast one. On a GPU the run therefore first keeps the chip
// busy with matrix products for a few seconds; a CPU adapter has no clocks to raise.

import type { GpuRuntime } from '../src/gpu/runtime';
import { matmul } from '../src/kernels/matmul';

/** The products are N × N × N: about 17 GFLOP each, milliseconds on a GPU. */
const N = 2048;

/** Runs products until `seconds` have passed; returns how many ran. */
export async function warmUpGpu(rt: GpuRuntime, seconds: number): Promise<number> {
  const a = await rt.createBuffer('bench warm-up A', 'scratch', 4 * N * N);
  const c = await rt.createBuffer('bench warm-up C', 'scratch', 4 * N * N);
  try {
    const end = performance.now() + 1000 * seconds;
    let products = 0;
    while (performance.now() < end) {
      // A few products per wait, so the queue never runs dry while the host records.
      for (let i = 0; i < 4; i++)
        await matmul(rt, { a: a.buffer, b: a.buffer, c: c.buffer, m: N, n: N, k: N });
      await rt.sync();
      products += 4;
    }
    return products;
  } finally {
    a.destroy();
    c.destroy();
  }
}
