import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { createNodeRuntime } from '../host/nodeGpu';
import { freshSeed, Random } from '../kernels/random';
import type { ModelConfig } from '../model/config';
import { referenceNll } from '../model/reference';
import { randomTensors, tinyConfig } from '../model/testModels';
import { canonicalTensors } from '../model/weights';
import { centralDifferences, gradientError } from './backward/gradientCheck';
import { modelBackward } from './modelBackward';
import { lossOf, nextTokenTargets, trainForward } from './trainForward';

// The gradient of the mean next-token NLL with respect to every canonical tensor, from the GPU
// forward that saves activations and the backward kernels, checked against central differences of
// the float64 model reference (model/reference.ts referenceNll), which shares no code with the GPU
// path. Step h = 2^-16 on weights of size ~1/√fan-in: small, because OPT's ReLU has kinks, and a
// difference quotient whose interval holds a kink is off by up to |slope jump|·h/4, which h = 2^-16
// keeps below the bound; float64 rounding costs ~1e-16·|L|/h ≈ 1e-11. The differences' own error
// (Richardson, on a sample of every tensor) is checked to stay under a tenth of the bound.
//
// Bound: 2^-15 ≈ 3e-5 (512ε) of each tensor's largest |gradient|. Each kernel holds a few ε
// against its own scale (their tests), but the chain through two blocks and the head, and the
// forward's f32 rounding of the activations the backward reads (moving the gradient by the loss's
// curvature times ~ε), have no tight closed form. Measured over the four families and a dozen
// seeds, the worst tensor is at 2.1e-6 (36ε; layer 1's q and k, whose gradients pass through the
// softmax), typically 1e-7 to 5e-7, so the bound leaves a factor of about 14. A wiring mistake (a
// missing residual path, a transposed product, a wrong head or group, a missing bias) moves some
// tensor's gradient by far more than 1e-2 (dropping the MLP's residual gradient gives 0.35).
const BOUND = 2 ** -15;
const H = 2 ** -16;
const TOKENS = 7;

const CONFIGS: [string, ModelConfig][] = [
  ['llama (RMSNorm, RoPE half, SwiGLU, untied)', tinyConfig('llama')],
  [
    'llama with GQA, interleaved RoPE, tied',
    tinyConfig('llama', { kvHeads: 1, ropeStyle: 'interleaved', tiedEmbeddings: true }),
  ],
  ['opt (LayerNorm, learned positions at offset 2, ReLU, biases, tied)', tinyConfig('opt')],
  ['gpt2 (gelu_new)', tinyConfig('gpt2')],
];

describe('model backward', () => {
  let rt: GpuRuntime;
  beforeAll(async () => {
    rt = await createNodeRuntime();
  });
  afterAll(() => rt.destroy());

  async function check(c: ModelConfig) {
    const seed = freshSeed();
    const random = new Random(seed);
    const w = randomTensors(c, seed);
    const ids = Array.from({ length: TOKENS }, () => Math.floor(random.next() * c.vocabSize));
    const buffers = new Map<string, GPUBuffer>();
    const grads = new Map<string, GPUBuffer>();
    for (const [name, data] of w) {
      buffers.set(name, (await rt.upload(name, 'weights', data)).buffer);
      grads.set(
        name,
        (await rt.upload(`d ${name}`, 'gradients', new Float32Array(data.length).fill(Number.NaN))).buffer,
      );
    }
    const saved = await trainForward(rt, c, (n) => buffers.get(n), ids, nextTokenTargets(ids));
    const label = `${c.family} seed ${seed}`;
    try {
      const loss = await lossOf(rt, saved);
      const ref = referenceNll(c, w, ids);
      expect(loss.count).toBe(ref.count);
      expect(Math.abs(loss.sum - ref.sum) / ref.count, `loss ${label}`).toBeLessThan(1e-5);
      await modelBackward(
        rt,
        (n) => buffers.get(n),
        (n) => grads.get(n),
        saved,
      );
    } finally {
      saved.free();
    }
    const mean = () => {
      const r = referenceNll(c, w, ids);
      return r.sum / r.count;
    };
    const names = canonicalTensors(c).map((t) => t.name);
    expect(new Set(names)).toEqual(new Set(w.keys()));
    const wants = new Map<string, Float64Array>();
    for (const name of names) wants.set(name, centralDifferences(mean, w.get(name) as Float32Array, H).grad);
    const largest = Math.max(...[...wants.values()].map((g) => Math.max(...g.map(Math.abs))));
    for (const name of names) {
      const x = w.get(name) as Float32Array;
      const want = wants.get(name) as Float64Array;
      // A gradient that vanishes identically (k's bias: a query's softmax is invariant to a shift of
      // all its scores) is measured against 1% of the model's largest gradient instead of itself.
      const scale = Math.max(Math.max(...want.map(Math.abs)), largest / 100);
      const sample = Array.from({ length: Math.min(6, x.length) }, (_, i) => Math.floor((i * x.length) / 6));
      const own = centralDifferences(mean, x, H, { indices: sample, estimate: true }).error;
      expect(own / scale, `differences' own error, ${name} ${label}`).toBeLessThan(BOUND / 10);
      const gpu = await rt.readF32(grads.get(name) as GPUBuffer);
      expect(gradientError(gpu, want, { scale }), `${name} ${label}`).toBeLessThanOrEqual(BOUND);
    }
  }

  for (const [title, c] of CONFIGS)
    it(`matches differences of the float64 model for ${title}`, () => check(c));

  it('accumulates micro-batches: two windows with accumulate equal the sum of their gradients', async () => {
    // OPT: tied embeddings (LM head and embedding add into one table) and learned positions.
    const c = tinyConfig('opt');
    const seed = freshSeed();
    const random = new Random(seed);
    const w = randomTensors(c, seed);
    const windows = [5, 9].map((n) =>
      Array.from({ length: n }, () => Math.floor(random.next() * c.vocabSize)),
    );
    const buffers = new Map<string, GPUBuffer>();
    for (const [name, data] of w) buffers.set(name, (await rt.upload(name, 'weights', data)).buffer);
    const run = async (ids: number[], grads: Map<string, GPUBuffer>, accumulate: boolean) => {
      const saved = await trainForward(rt, c, (n) => buffers.get(n), ids, nextTokenTargets(ids));
      try {
        await modelBackward(
          rt,
          (n) => buffers.get(n),
          (n) => grads.get(n),
          saved,
          { accumulate },
        );
      } finally {
        saved.free();
      }
    };
    const fresh = async () => {
      const g = new Map<string, GPUBuffer>();
      for (const [name, data] of w) {
        g.set(
          name,
          (await rt.upload(name, 'gradients', new Float32Array(data.length).fill(Number.NaN))).buffer,
        );
      }
      return g;
    };
    const [one, two, both] = [await fresh(), await fresh(), await fresh()];
    await run(windows[0] as number[], one, false);
    await run(windows[1] as number[], two, false);
    await run(windows[0] as number[], both, false);
    await run(windows[1] as number[], both, true);
    for (const name of w.keys()) {
      const [a, b, sum] = [
        await rt.readF32(one.get(name) as GPUBuffer),
        await rt.readF32(two.get(name) as GPUBuffer),
        await rt.readF32(both.get(name) as GPUBuffer),
      ];
      const want = Float64Array.from(a, (v, i) => v + (b[i] as number));
      // The same products, summed in another association: a few roundings of the largest element.
      expect(gradientError(sum, want), `${name} seed ${seed}`).toBeLessThan(16 * 2 ** -24);
    }
  });
});
