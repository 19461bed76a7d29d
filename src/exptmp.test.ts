import { it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createNodeRuntime } from './host/nodeGpu';
import { bytesSource } from './model/byteSource';
import { openModel } from './model/checkpoint';
import { GpuModel } from './model/gpuModel';
import { referenceNll } from './model/reference';
import { canonicalTensors } from './model/weights';
it('eval speed', async () => {
  const rt = await createNodeRuntime();
  const dir = 'public/models/stories260K/';
  const opened = await openModel(['config.json', 'model.safetensors'].map((n) => bytesSource(n, readFileSync(dir + n))));
  const model = await GpuModel.load(rt, opened.weights);
  const T = 256;
  const wins = Array.from({ length: 16 }, (_, w) => Array.from({ length: T }, (_, i) => ((w * 31 + i) * 7919) % 512));
  const tensors = new Map<string, Float32Array>();
  for (const t of canonicalTensors(model.config)) tensors.set(t.name, await opened.weights.read(t.name));
  let t0 = performance.now();
  for (const w of wins.slice(0, 4)) referenceNll(model.config, tensors, w);
  const js = (4 * T) / ((performance.now() - t0) / 1000);
  await model.scoreWindows(wins.slice(0, 1));
  for (const B of [1, 4]) {
    t0 = performance.now();
    for (let i = 0; i < 16; i += B) await model.scoreWindows(wins.slice(i, i + B));
    const gpu = (16 * T) / ((performance.now() - t0) / 1000);
    rt.startProfile();
    for (let i = 0; i < 4; i += B) await model.scoreWindows(wins.slice(i, i + B));
    const totals = await rt.stopProfile();
    console.log(`B=${B} profile`, JSON.stringify([...totals].map(([k, v]) => [k, Math.round(v / 1e6)])));
    console.log(`B=${B}: GPU ${gpu.toFixed(0)} tok/s, JS ${js.toFixed(0)} tok/s, ratio ${(gpu / js).toFixed(2)}`);
  }
  rt.destroy();
}, 1200000);
