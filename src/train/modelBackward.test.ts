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
// path. Step h = 2^-12 on weights of size ~1/√fan-in; the differences' own error (Richardson, on a
// sample of every tensor) is checked to stay under a tenth of the bound.
//
// Bound: 2^-16 ≈ 1.5e-5 (256ε) of each tensor's largest |gradient|. Each kernel holds a few ε
// against its own scale (their tests), but the chain through two blocks and the head, and the
// forward's f32 rounding of the activations the backward reads (moving the gradient by the loss's
// curvature times ~ε), have no tight closed form; measured over the four families, the worst
// tensor is at 1.2e-6 (20ε), typically 2e-7, so the bound leaves a factor of about 12. A wiring
// mistake (a missing residual path, a transposed product, a wrong head or group, a missing bias)
// moves some tensor's gradient by far more than 1e-2.
const BOUND = 2 ** -16;
const H = 2 ** -12;
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
});
