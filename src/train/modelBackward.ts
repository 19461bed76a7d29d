// The backward pass of the whole model, from the activations trainForward saved: the mean
// next-token cross-entropy's gradient with respect to every canonical tensor (model/weights.ts
// names), block by block in reverse. The residual stream's gradient dX runs through the model
// and each branch adds into it (the norms' backward accumulates); linear layers give their weight
// and bias gradients on the way (linearBackward), attention goes through the saved probabilities,
// RoPE through its inverse rotation, and the embeddings through deterministic segment sums.
//
// Parameter gradients are overwritten, or added into with `accumulate` (micro-batches). Tied
// embeddings get the LM head's gradient first and the embedding's on top, in that order.

import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { requiredBuffer, type WeightLookup } from '../model/blockForward';
import type { ModelConfig } from '../model/config';
import { activationBackward, gatedActivationBackward } from './backward/activationBackward';
import { attentionBackward } from './backward/attentionBackward';
import { countedTargets, crossEntropyBackward } from './backward/crossEntropyBackward';
import { embeddingBackward } from './backward/embeddingBackward';
import { linearBackward } from './backward/linearBackward';
import { normBackward } from './backward/normBackward';
import { ropeBackward } from './backward/ropeBackward';
import type { LayerActivations, SavedForward } from './trainForward';

/** Finds the gradient buffer of a canonical tensor (same name and shape as the weight). */
export type GradientLookup = (name: string) => GPUBuffer | undefined;

export interface BackwardOptions {
  /** Add into the gradient buffers instead of overwriting them. Default false. */
  accumulate?: boolean;
  /**
   * Multiplies the gradient: a batch of B windows accumulated with scale 1/B gives the gradient of
   * the batch's mean loss when every window counts as many targets. Default 1.
   */
  scale?: number;
}

/** Scratch gradients of one window's activations, reused by every block. */
export interface BackwardScratch {
  /** The residual stream's gradient, tokens × hidden. */
  dX: GPUBuffer;
  dH: GPUBuffer;
  dAttn: GPUBuffer;
  dQ: GPUBuffer;
  dK: GPUBuffer;
  dV: GPUBuffer;
  /** The gradient of the MLP activation's output (then, without a gate, of its input). */
  dAct: GPUBuffer;
}

/**
 * Gradients of the mean NLL of saved's targets with respect to every weight, into grads. The saved
 * activations are consumed: the MLP's pre-activations and the logits are overwritten by their
 * gradients, so call saved.free() afterwards and do not reuse them.
 */
export async function modelBackward(
  rt: GpuRuntime,
  weights: WeightLookup,
  grads: GradientLookup,
  saved: SavedForward,
  options: BackwardOptions = {},
): Promise<void> {
  const c = saved.config;
  const T = saved.tokens;
  const d = c.hidden;
  const accumulate = options.accumulate ?? false;
  const count = countedTargets(saved.targets);
  const owned: TrackedBuffer[] = [];
  const make = async (label: string, elements: number) => {
    const b = await rt.createBuffer(`backward ${label}`, 'scratch', Math.max(1, elements) * 4);
    owned.push(b);
    return b.buffer;
  };
  try {
    const s: BackwardScratch = {
      dX: await make('dX', T * d),
      dH: await make('dH', T * d),
      dAttn: await make('dAttn', T * c.heads * c.headDim),
      dQ: await make('dQ', T * c.heads * c.headDim),
      dK: await make('dK', T * c.kvHeads * c.headDim),
      dV: await make('dV', T * c.kvHeads * c.headDim),
      dAct: await make('dAct', T * c.ffnHidden),
    };
    // Loss → logits (in place: the logits are not needed again). With no target counted the loss is
    // 0 and so is every gradient; scale 1 keeps the arithmetic finite.
    await crossEntropyBackward(rt, {
      logits: saved.logits,
      targets: saved.targetsBuffer,
      rows: T,
      vocab: c.vocabSize,
      scale: count > 0 ? (options.scale ?? 1) / count : 1,
    });
    // Logits → final hidden states and the LM head (or the tied embedding table).
    const head = c.tiedEmbeddings ? 'tok_embeddings' : 'lm_head.weight';
    await linearBackward(rt, {
      rows: T,
      inDim: d,
      outDim: c.vocabSize,
      x: saved.hFinal,
      weight: requiredBuffer(weights, head),
      dy: saved.logits,
      dx: s.dH,
      dWeight: requiredBuffer(grads, head, 'gradient'),
      accumulateParams: accumulate,
    });
    await normGrad(rt, c, weights, grads, 'final_norm', saved.xOut, s.dH, s.dX, T, accumulate, false);
    for (let l = c.layers - 1; l >= 0; l--) {
      await blockBackward(rt, c, weights, grads, saved.layers[l] as LayerActivations, l, s, T, accumulate);
    }
    // Embeddings: the table's rows of the window's ids (and positions) take dX.
    const tok = requiredBuffer(grads, 'tok_embeddings', 'gradient');
    if (!accumulate && !c.tiedEmbeddings) zero(rt, tok, c.vocabSize * d);
    await embeddingBackward(rt, { ids: saved.ids, dOut: s.dX, dTable: tok, vocab: c.vocabSize, width: d });
    if (c.positions === 'learned' && saved.positions) {
      const rows = c.maxPositions + c.positionOffset;
      const pos = requiredBuffer(grads, 'pos_embeddings', 'gradient');
      if (!accumulate) zero(rt, pos, rows * d);
      await embeddingBackward(rt, { ids: saved.positions, dOut: s.dX, dTable: pos, vocab: rows, width: d });
    }
  } finally {
    for (const b of owned) b.destroy();
  }
}

/**
 * One block's backward: given dX, the gradient of the block's output, leaves the gradient of its
 * input in dX and writes the block's parameter gradients.
 */
export async function blockBackward(
  rt: GpuRuntime,
  c: ModelConfig,
  weights: WeightLookup,
  grads: GradientLookup,
  a: LayerActivations,
  layer: number,
  s: BackwardScratch,
  T: number,
  accumulate: boolean,
): Promise<void> {
  const d = c.hidden;
  const qd = c.heads * c.headDim;
  const kvd = c.kvHeads * c.headDim;
  const f = c.ffnHidden;
  const p = `layers.${layer}`;
  const linear = (
    name: string,
    x: GPUBuffer,
    dy: GPUBuffer,
    dx: GPUBuffer,
    inDim: number,
    outDim: number,
    accumulateInput: boolean,
  ) =>
    linearBackward(rt, {
      rows: T,
      inDim,
      outDim,
      x,
      weight: requiredBuffer(weights, `${p}.${name}.weight`),
      dy,
      dx,
      dWeight: requiredBuffer(grads, `${p}.${name}.weight`, 'gradient'),
      dBias: weights(`${p}.${name}.bias`)
        ? requiredBuffer(grads, `${p}.${name}.bias`, 'gradient')
        : undefined,
      accumulateInput,
      accumulateParams: accumulate,
    });

  // MLP: xOut = xMid + down(act). dX is both d xOut and, through the residual, part of d xMid.
  await linear('down', a.act, s.dX, s.dAct, f, d, false);
  if (a.gate) {
    // gate and up become their gradients.
    await gatedActivationBackward(rt, {
      fn: 'silu',
      rows: T,
      cols: f,
      a: { buffer: a.gate },
      b: { buffer: a.up },
      dOut: { buffer: s.dAct },
    });
    await linear('gate', a.h2, a.gate, s.dH, d, f, false);
    await linear('up', a.h2, a.up, s.dH, d, f, true);
  } else {
    const fn = c.activation === 'gelu_new' ? 'gelu_tanh' : c.activation === 'gelu' ? 'gelu' : 'relu';
    await activationBackward(rt, { fn, rows: T, cols: f, x: { buffer: a.up }, dy: { buffer: s.dAct } });
    await linear('up', a.h2, s.dAct, s.dH, d, f, false);
  }
  await normGrad(rt, c, weights, grads, `${p}.mlp_norm`, a.xMid, s.dH, s.dX, T, accumulate, true);

  // Attention: xMid = xIn + o(attn).
  await linear('o', a.attn, s.dX, s.dAttn, qd, d, false);
  await attentionBackward(rt, {
    q: a.q,
    k: a.k,
    v: a.v,
    probs: a.probs,
    dOut: s.dAttn,
    dQ: s.dQ,
    dK: s.dK,
    dV: s.dV,
    tokens: T,
    heads: c.heads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
  });
  if (c.positions === 'rope') {
    for (const [buffer, heads] of [
      [s.dQ, c.heads],
      [s.dK, c.kvHeads],
    ] as const) {
      await ropeBackward(rt, {
        x: buffer,
        tokens: T,
        heads,
        headDim: c.headDim,
        convention: c.ropeStyle,
        theta: c.ropeTheta,
      });
    }
  }
  await linear('q', a.h1, s.dQ, s.dH, d, qd, false);
  await linear('k', a.h1, s.dK, s.dH, d, kvd, true);
  await linear('v', a.h1, s.dV, s.dH, d, kvd, true);
  await normGrad(rt, c, weights, grads, `${p}.attn_norm`, a.xIn, s.dH, s.dX, T, accumulate, true);
}

/** The family's norm backward: dx (+)= …, and its gain (and bias) gradients. */
async function normGrad(
  rt: GpuRuntime,
  c: ModelConfig,
  weights: WeightLookup,
  grads: GradientLookup,
  name: string,
  x: GPUBuffer,
  dy: GPUBuffer,
  dx: GPUBuffer,
  rows: number,
  accumulateParams: boolean,
  accumulateInput: boolean,
): Promise<void> {
  const layer = c.norm === 'layernorm';
  await normBackward(rt, {
    kind: layer ? 'layer' : 'rms',
    x,
    weight: requiredBuffer(weights, `${name}.weight`),
    dy,
    dx,
    dWeight: requiredBuffer(grads, `${name}.weight`, 'gradient'),
    dBias: layer ? requiredBuffer(grads, `${name}.bias`, 'gradient') : undefined,
    rows,
    width: c.hidden,
    eps: c.normEps,
    accumulateInput,
    accumulateParams,
  });
}

function zero(rt: GpuRuntime, buffer: GPUBuffer, elements: number): void {
  rt.write(buffer, new Float32Array(elements));
}
