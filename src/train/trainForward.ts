// The forward pass of a training step: the blocks run through model/blockForward.ts's runBlock, the
// one block forward the model and the pruner use, but with every activation the backward pass needs
// (modelBackward.ts) in its own buffer instead of overwritten in place, and with attention that
// keeps its probabilities. Per block and token that is the block's input x, the normed h1, the
// rotated q and k, v, the attention output, the mid-block residual, the normed h2, the MLP's
// pre-activations and its activation, plus each head's T × T softmax probabilities; then the final
// residual, its norm and the logits. All of it is kept for the whole model (no recomputation yet),
// which is what a small model at short windows can afford.

import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { crossEntropy, IGNORE_TARGET } from '../kernels/crossEntropy';
import { embedding } from '../kernels/embedding';
import { matmul } from '../kernels/matmul';
import {
  type BlockActivations,
  normLayer,
  requiredBuffer,
  runBlock,
  type WeightLookup,
} from '../model/blockForward';
import type { ModelConfig } from '../model/config';
import { attentionForwardSaving } from './backward/attentionBackward';

/** One block's activations (model/blockForward.ts), kept apart, with its softmax probabilities. */
export interface LayerActivations extends BlockActivations {
  /** heads × tokens × tokens softmax probabilities. */
  probs: GPUBuffer;
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
      table: requiredBuffer(weights, 'tok_embeddings'),
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
        table: requiredBuffer(weights, 'pos_embeddings'),
        out: x,
        tokens: T,
        vocab: c.maxPositions + c.positionOffset,
        width: d,
        accumulate: true,
      });
    }

    const attend = (q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, out: GPUBuffer, probs: GPUBuffer) =>
      attentionForwardSaving(rt, {
        q,
        k,
        v,
        out,
        probs,
        tokens: T,
        heads: c.heads,
        kvHeads: c.kvHeads,
        headDim: c.headDim,
      });
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
        xOut: await make(`${p}.xOut`, T * d),
      };
      await runBlock(rt, c, weights, l, a, {
        tokens: T,
        seqLen: T,
        start: 0,
        attend: (q, k, v, out) => attend(q, k, v, out, a.probs),
      });
      layers.push(a);
      x = a.xOut;
    }
    const hFinal = await make('hFinal', T * d);
    await normLayer(rt, c, weights, 'final_norm', x, hFinal, T);
    const logits = await make('logits', T * c.vocabSize);
    await matmul(rt, {
      a: hFinal,
      b: requiredBuffer(weights, c.tiedEmbeddings ? 'tok_embeddings' : 'lm_head.weight'),
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
