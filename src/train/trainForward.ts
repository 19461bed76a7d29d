// The forward pass of a training step: the model of model/blockForward.ts, computed by the same
// kernels, but keeping every activation the backward pass needs (modelBackward.ts) instead of
// overwriting them in place. Per block and token that is the block's input x, the normed h1, the
// rotated q and k, v, the attention output, the mid-block residual, the normed h2, the MLP's
// pre-activations and its activation, plus each head's T × T softmax probabilities; then the final
// residual, its norm and the logits. All of it is kept for the whole model (no recomputation yet),
// which is what a small model at short windows can afford.

import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { biasAdd, gatedActivation, activation as pointwise } from '../kernels/activation';
import { crossEntropy, IGNORE_TARGET } from '../kernels/crossEntropy';
import { embedding } from '../kernels/embedding';
import { matmul } from '../kernels/matmul';
import { rope } from '../kernels/rope';
import { normLayer, type WeightLookup } from '../model/blockForward';
import type { ModelConfig } from '../model/config';
import { attentionForwardSaving } from './backward/attentionBackward';

export interface LayerActivations {
  /** The block's input (the residual stream), tokens × hidden. */
  xIn: GPUBuffer;
  /** attn_norm(xIn), the input of q, k and v. */
  h1: GPUBuffer;
  /** Rotated (where the family uses RoPE) q and k, and v. */
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  /** heads × tokens × tokens softmax probabilities. */
  probs: GPUBuffer;
  /** The attention output, the input of o. */
  attn: GPUBuffer;
  /** xIn + o(attn). */
  xMid: GPUBuffer;
  /** mlp_norm(xMid), the input of gate and up (or of up alone). */
  h2: GPUBuffer;
  /** SwiGLU's gate pre-activation (w1 h2); absent for the other families. */
  gate?: GPUBuffer;
  /** w3 h2 (SwiGLU), or the pre-activation of the MLP's single activation. */
  up: GPUBuffer;
  /** The activation's output, the input of down. */
  act: GPUBuffer;
}

export interface SavedForward {
  config: ModelConfig;
  tokens: number;
  ids: readonly number[];
  /** Learned-position ids (t + positionOffset), where the family has them. */
  positions?: readonly number[];
  targets: Uint32Array;
  targetsBuffer: GPUBuffer;
  layers: LayerActivations[];
  /** The last block's output, the input of final_norm. */
  xOut: GPUBuffer;
  /** final_norm(xOut), the input of the LM head. */
  hFinal: GPUBuffer;
  logits: GPUBuffer;
  /** Per-token NLL (0 for ignored targets). */
  nll: GPUBuffer;
  /** Frees every buffer above. */
  free(): void;
}

const required = (lookup: WeightLookup, name: string): GPUBuffer => {
  const b = lookup(name);
  if (!b) throw new Error(`weight ${name} is not on the GPU`);
  return b;
};

/**
 * Runs the model on one window of ids with next-token targets (IGNORE_TARGET where none), keeping
 * the activations. The loss is lossOf(rt, saved).
 */
export async function trainForward(
  rt: GpuRuntime,
  c: ModelConfig,
  weights: WeightLookup,
  ids: readonly number[],
  targets: readonly number[],
): Promise<SavedForward> {
  const T = ids.length;
  if (T === 0 || T > c.maxPositions) {
    throw new RangeError(`trainForward: a window of ${T} tokens is outside 1..${c.maxPositions}`);
  }
  if (targets.length !== T) {
    throw new RangeError(`trainForward: ${targets.length} targets for ${T} tokens`);
  }
  const badId = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= c.vocabSize);
  if (badId !== undefined) throw new RangeError(`trainForward: token id ${badId} is outside the vocabulary`);
  const badTarget = targets.find(
    (t) => t !== IGNORE_TARGET && !(Number.isInteger(t) && t >= 0 && t < c.vocabSize),
  );
  if (badTarget !== undefined) {
    throw new RangeError(`trainForward: target ${badTarget} is outside the vocabulary (or IGNORE_TARGET)`);
  }
  const d = c.hidden;
  const qd = c.heads * c.headDim;
  const kvd = c.kvHeads * c.headDim;
  const f = c.ffnHidden;
  const owned: TrackedBuffer[] = [];
  const make = async (label: string, elements: number) => {
    const b = await rt.createBuffer(`train ${label}`, 'activations', Math.max(1, elements) * 4);
    owned.push(b);
    return b.buffer;
  };
  const free = () => {
    for (const b of owned) b.destroy();
    owned.length = 0;
  };
  try {
    const idsBuffer = await make('ids', T);
    rt.write(idsBuffer, Uint32Array.from(ids));
    const targetArray = Uint32Array.from(targets);
    const targetsBuffer = await make('targets', T);
    rt.write(targetsBuffer, targetArray);

    let x = await make('x0', T * d);
    await embedding(rt, {
      ids: idsBuffer,
      table: required(weights, 'tok_embeddings'),
      out: x,
      tokens: T,
      vocab: c.vocabSize,
      width: d,
    });
    let positions: number[] | undefined;
    if (c.positions === 'learned') {
      positions = Array.from({ length: T }, (_, t) => t + c.positionOffset);
      const posBuffer = await make('positions', T);
      rt.write(posBuffer, Uint32Array.from(positions));
      await embedding(rt, {
        ids: posBuffer,
        table: required(weights, 'pos_embeddings'),
        out: x,
        tokens: T,
        vocab: c.maxPositions + c.positionOffset,
        width: d,
        accumulate: true,
      });
    }

    const linear = async (
      name: string,
      input: GPUBuffer,
      out: GPUBuffer,
      inDim: number,
      outDim: number,
      accumulate: boolean,
    ) => {
      await matmul(rt, {
        a: input,
        b: required(weights, `${name}.weight`),
        c: out,
        m: T,
        n: outDim,
        k: inDim,
        transB: true,
        beta: accumulate ? 1 : 0,
      });
      const bias = weights(`${name}.bias`);
      if (bias) await biasAdd(rt, { rows: T, cols: outDim, y: { buffer: out }, bias });
    };

    const layers: LayerActivations[] = [];
    for (let l = 0; l < c.layers; l++) {
      const p = `layers.${l}`;
      const a: LayerActivations = {
        xIn: x,
        h1: await make(`${p}.h1`, T * d),
        q: await make(`${p}.q`, T * qd),
        k: await make(`${p}.k`, T * kvd),
        v: await make(`${p}.v`, T * kvd),
        probs: await make(`${p}.probs`, c.heads * T * T),
        attn: await make(`${p}.attn`, T * qd),
        xMid: await make(`${p}.xMid`, T * d),
        h2: await make(`${p}.h2`, T * d),
        gate: c.activation === 'swiglu' ? await make(`${p}.gate`, T * f) : undefined,
        up: await make(`${p}.up`, T * f),
        act: await make(`${p}.act`, T * f),
      };
      await normLayer(rt, c, weights, `${p}.attn_norm`, a.xIn, a.h1, T);
      await linear(`${p}.q`, a.h1, a.q, d, qd, false);
      await linear(`${p}.k`, a.h1, a.k, d, kvd, false);
      await linear(`${p}.v`, a.h1, a.v, d, kvd, false);
      if (c.positions === 'rope') {
        for (const [buffer, heads] of [
          [a.q, c.heads],
          [a.k, c.kvHeads],
        ] as const) {
          await rope(rt, {
            x: buffer,
            tokens: T,
            heads,
            headDim: c.headDim,
            convention: c.ropeStyle,
            theta: c.ropeTheta,
          });
        }
      }
      await attentionForwardSaving(rt, {
        q: a.q,
        k: a.k,
        v: a.v,
        out: a.attn,
        probs: a.probs,
        tokens: T,
        heads: c.heads,
        kvHeads: c.kvHeads,
        headDim: c.headDim,
      });
      rt.copy(a.xIn, a.xMid, T * d * 4);
      await linear(`${p}.o`, a.attn, a.xMid, qd, d, true);
      await normLayer(rt, c, weights, `${p}.mlp_norm`, a.xMid, a.h2, T);
      if (a.gate) {
        await linear(`${p}.gate`, a.h2, a.gate, d, f, false);
        await linear(`${p}.up`, a.h2, a.up, d, f, false);
        await gatedActivation(rt, {
          fn: 'silu',
          rows: T,
          cols: f,
          a: { buffer: a.gate },
          b: { buffer: a.up },
          out: { buffer: a.act },
        });
      } else {
        await linear(`${p}.up`, a.h2, a.up, d, f, false);
        const fn = c.activation === 'gelu_new' ? 'gelu_tanh' : c.activation === 'gelu' ? 'gelu' : 'relu';
        await pointwise(rt, { fn, rows: T, cols: f, x: { buffer: a.up }, y: { buffer: a.act } });
      }
      const xOut = await make(`${p}.xOut`, T * d);
      rt.copy(a.xMid, xOut, T * d * 4);
      await linear(`${p}.down`, a.act, xOut, f, d, true);
      layers.push(a);
      x = xOut;
    }
    const hFinal = await make('hFinal', T * d);
    await normLayer(rt, c, weights, 'final_norm', x, hFinal, T);
    const logits = await make('logits', T * c.vocabSize);
    await matmul(rt, {
      a: hFinal,
      b: required(weights, c.tiedEmbeddings ? 'tok_embeddings' : 'lm_head.weight'),
      c: logits,
      m: T,
      n: c.vocabSize,
      k: d,
      transB: true,
    });
    const nll = await make('nll', T);
    await crossEntropy(rt, { logits, targets: targetsBuffer, nll, rows: T, vocab: c.vocabSize });
    return {
      config: c,
      tokens: T,
      ids: [...ids],
      positions,
      targets: targetArray,
      targetsBuffer,
      layers,
      xOut: x,
      hFinal,
      logits,
      nll,
      free,
    };
  } catch (error) {
    free();
    throw error;
  }
}

/** The summed NLL over the targets that count, and their count (the mean loss is sum / count). */
export async function lossOf(rt: GpuRuntime, saved: SavedForward): Promise<{ sum: number; count: number }> {
  const nll = await rt.readF32(saved.nll, 0, saved.tokens * 4);
  let sum = 0;
  let count = 0;
  saved.targets.forEach((t, i) => {
    if (t === IGNORE_TARGET) return;
    sum += nll[i] as number;
    count++;
  });
  return { sum, count };
}

/** Next-token targets for a window: ids shifted by one, the last ignored (as referenceNll scores it). */
export function nextTokenTargets(ids: readonly number[]): number[] {
  return ids.map((_, t) => (t + 1 < ids.length ? (ids[t + 1] as number) : IGNORE_TARGET));
}
