// One decoder block's forward pass, and the embeddings before the first block, shared by the model
// (perplexity, logits, generation), the pruner and training (runBlock, with every activation in its
// own buffer for the backward pass: train/trainForward.ts). The pruner needs more than the block's output: the input of
// every linear operator, in the dense block and in the block whose earlier operators are already
// pruned (FISTAPruner's intra-layer error correction, docs/algorithms/fistapruner.md §2). So the block runs against any
// weight lookup, and an observer sees each operator group's input as it is produced and may stop
// the block there. Generation runs the same block with a KV cache (BlockBuffers.cache): the pass's
// rows continue a sequence, and their keys and values are kept for the next pass.

import type { GpuRuntime } from '../gpu/runtime';
import { biasAdd, gatedActivation, activation as pointwise } from '../kernels/activation';
import { attention } from '../kernels/attention';
import { scoresAttention, scoresFit } from '../kernels/attentionScores';
import { smallHeadAttention, smallHeadFits } from '../kernels/attentionSmallHead';
import { embedding } from '../kernels/embedding';
import { matmul } from '../kernels/matmul';
import { norm } from '../kernels/norm';
import { rope } from '../kernels/rope';
import { sparseLinear } from '../sparse/sparseLinear';
import type { ModelConfig } from './config';
import { compressedWeight, weightStorage } from './weightStorage';

/**
 * Activation buffers for one pass over `tokens` rows: a batch of windows of `seqLen` tokens each,
 * stacked. Every kernel but positions and attention treats the rows alike; those two restart at
 * each window, so a batch computes exactly what its windows would one at a time.
 */
export interface BlockBuffers {
  /** Rows of the pass: windows × seqLen. */
  tokens: number;
  seqLen: number;
  ids: GPUBuffer;
  positions: GPUBuffer;
  /** The residual stream: the block's input, and its output (updated in place). */
  x: GPUBuffer;
  h: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  attn: GPUBuffer;
  up: GPUBuffer;
  gate: GPUBuffer;
  /** Generation with a KV cache: set when the pass's rows continue a cached sequence (kvCache.ts). */
  cache?: CachedPass;
}

/**
 * The rows of a pass are positions start, start + 1, … of one sequence (seqLen = tokens) whose
 * earlier positions' keys and values are cached: each block writes its keys (after rope) and values
 * into rows start.. of its layer's cache buffers, [capacity, kvHeads, headDim], instead of into
 * BlockBuffers.k and v, and attention reads positions 0..start + tokens − 1 from there.
 */
export interface CachedPass {
  start: number;
  k: readonly GPUBuffer[];
  v: readonly GPUBuffer[];
}

/** Element counts of each activation buffer for a pass of `tokens` rows. */
export function blockBufferSizes(
  c: ModelConfig,
  tokens: number,
): Record<Exclude<keyof BlockBuffers, 'tokens' | 'seqLen' | 'cache'>, number> {
  return {
    ids: tokens,
    positions: tokens,
    x: tokens * c.hidden,
    h: tokens * c.hidden,
    q: tokens * c.heads * c.headDim,
    k: tokens * c.kvHeads * c.headDim,
    v: tokens * c.kvHeads * c.headDim,
    attn: tokens * c.heads * c.headDim,
    up: tokens * c.ffnHidden,
    gate: c.activation === 'swiglu' ? tokens * c.ffnHidden : 1,
  };
}

/** Finds a weight ('layers.0.q.weight', 'tok_embeddings') on the GPU; undefined for an absent bias. */
export type WeightLookup = (name: string) => GPUBuffer | undefined;

/**
 * The linear operators of a block in the order they are computed, grouped by shared input: the
 * pruning order of docs/algorithms/fistapruner.md §2 (q, k, v; o; fc1 or gate and up; fc2 or down).
 */
export interface OperatorGroup {
  operators: string[];
  /** Width of the shared input (the operators' in-features). */
  inputWidth: number;
}

export function operatorGroups(c: ModelConfig): OperatorGroup[] {
  const qd = c.heads * c.headDim;
  return [
    { operators: ['q', 'k', 'v'], inputWidth: c.hidden },
    { operators: ['o'], inputWidth: qd },
    { operators: c.activation === 'swiglu' ? ['gate', 'up'] : ['up'], inputWidth: c.hidden },
    { operators: ['down'], inputWidth: c.ffnHidden },
  ];
}

/** Out-features of an operator. */
export function operatorRows(c: ModelConfig, operator: string): number {
  switch (operator) {
    case 'q':
      return c.heads * c.headDim;
    case 'k':
    case 'v':
      return c.kvHeads * c.headDim;
    case 'gate':
    case 'up':
      return c.ffnHidden;
    default:
      return c.hidden;
  }
}

/**
 * Called with each group's input (tokens × inputWidth, row-major) as soon as it is computed.
 * Returning true stops the block there (the rest of it is not computed).
 */
export type GroupObserver = (
  group: number,
  input: GPUBuffer,
) => Promise<boolean | undefined> | boolean | undefined;

/** The buffer `lookup` finds for `name`; throws, calling it a `what` (weight, gradient), when it finds none. */
export function requiredBuffer(lookup: WeightLookup, name: string, what = 'weight'): GPUBuffer {
  const b = lookup(name);
  if (!b) throw new Error(`${what} ${name} is not on the GPU`);
  return b;
}

/**
 * Writes the embeddings of `ids`, the pass's windows one after another (token plus learned positions
 * where the family has them), into buffers.x.
 */
export async function embedTokens(
  rt: GpuRuntime,
  c: ModelConfig,
  weights: WeightLookup,
  buffers: BlockBuffers,
  ids: readonly number[],
): Promise<void> {
  const T = ids.length;
  if (T !== buffers.tokens) {
    throw new RangeError(`${T} token ids for a pass of ${buffers.tokens} rows`);
  }
  // Rows of a table (stored in 32 or 16 bits) into buffers.x: the token table's written, the
  // position table's added.
  const embed = async (ids: GPUBuffer, name: string, vocab: number, accumulate: boolean) => {
    const table = requiredBuffer(weights, name);
    const tableType = weightStorage(table);
    await embedding(rt, {
      ids,
      table,
      tableType,
      out: buffers.x,
      tokens: T,
      vocab,
      width: c.hidden,
      accumulate,
    });
  };
  rt.write(buffers.ids, Uint32Array.from(ids));
  await embed(buffers.ids, 'tok_embeddings', c.vocabSize, false);
  if (c.positions === 'learned') {
    const start = buffers.cache?.start ?? 0;
    rt.write(
      buffers.positions,
      Uint32Array.from({ length: T }, (_, t) => start + (t % buffers.seqLen) + c.positionOffset),
    );
    await embed(buffers.positions, 'pos_embeddings', c.maxPositions + c.positionOffset, true);
  }
}

/**
 * Where one block's pass reads and writes each of its activations. Inference passes the same
 * buffer for the residual stream's three states (xIn, xMid, xOut), for both norms' outputs and for
 * the MLP's pre-activation and activation, so the block runs in place; training passes distinct
 * buffers and keeps them all for the backward pass (train/trainForward.ts).
 */
export interface BlockActivations {
  /** The block's input, the residual stream, tokens × hidden. */
  xIn: GPUBuffer;
  /** attn_norm(xIn), the input of q, k and v. */
  h1: GPUBuffer;
  /** Rotated (where the family uses RoPE) q and k, and v; k and v from row `start` (a cache). */
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  /** The attention output, the input of o. */
  attn: GPUBuffer;
  /** xIn + o(attn). */
  xMid: GPUBuffer;
  /** mlp_norm(xMid), the input of gate and up (or of up alone). */
  h2: GPUBuffer;
  /** SwiGLU's gate pre-activation; absent for the other families. */
  gate?: GPUBuffer;
  /** w3 h2 (SwiGLU), or the pre-activation of the MLP's single activation. */
  up: GPUBuffer;
  /** The activation's output, the input of down. */
  act: GPUBuffer;
  /** xMid + down(act), the block's output. */
  xOut: GPUBuffer;
}

/** The rows of one block pass and how its attention runs. */
export interface BlockPass {
  tokens: number;
  /** Tokens per window: positions and attention restart at each. */
  seqLen: number;
  /** The position of the first row, and the row of k and v it writes (a KV cache's next row). */
  start: number;
  /** Attention of q over k and v (rows 0..start + tokens − 1) into out. */
  attend: (q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, out: GPUBuffer) => Promise<void>;
}

/**
 * Block `layer`'s forward pass: the one sequence of kernels that inference, pruning and training
 * share. The observer sees each operator group's input as it is produced and may stop the block.
 */
export async function runBlock(
  rt: GpuRuntime,
  c: ModelConfig,
  weights: WeightLookup,
  layer: number,
  a: BlockActivations,
  pass: BlockPass,
  observe?: GroupObserver,
): Promise<void> {
  const { tokens: T, start } = pass;
  const d = c.hidden;
  const qd = c.heads * c.headDim;
  const kvd = c.kvHeads * c.headDim;
  const f = c.ffnHidden;
  const p = `layers.${layer}`;
  const linear = (
    name: string,
    x: GPUBuffer,
    y: GPUBuffer,
    inDim: number,
    outDim: number,
    accumulate: boolean,
    offsetY = 0,
  ) => linearLayer(rt, weights, `${p}.${name}`, x, y, T, inDim, outDim, accumulate, offsetY);

  await normLayer(rt, c, weights, `${p}.attn_norm`, a.xIn, a.h1, T);
  if (await observe?.(0, a.h1)) return;
  await linear('q', a.h1, a.q, d, qd, false);
  await linear('k', a.h1, a.k, d, kvd, false, start * kvd);
  await linear('v', a.h1, a.v, d, kvd, false, start * kvd);
  if (c.positions === 'rope') {
    for (const [buffer, heads, offset] of [
      [a.q, c.heads, 0],
      [a.k, c.kvHeads, start * kvd],
    ] as const) {
      await rope(rt, {
        x: buffer,
        tokens: T,
        heads,
        headDim: c.headDim,
        convention: c.ropeStyle,
        theta: c.ropeTheta,
        seqLen: pass.seqLen,
        startPosition: start,
        offset,
      });
    }
  }
  await pass.attend(a.q, a.k, a.v, a.attn);
  if (await observe?.(1, a.attn)) return;
  // The residual stream accumulates: xMid ← xIn + W_o · attn.
  if (a.xMid !== a.xIn) rt.copy(a.xIn, a.xMid, T * d * 4);
  await linear('o', a.attn, a.xMid, qd, d, true);
  await normLayer(rt, c, weights, `${p}.mlp_norm`, a.xMid, a.h2, T);
  if (await observe?.(2, a.h2)) return;
  if (c.activation === 'swiglu') {
    if (!a.gate) throw new Error(`block ${layer}: a SwiGLU block needs a gate buffer`);
    await linear('gate', a.h2, a.gate, d, f, false);
    await linear('up', a.h2, a.up, d, f, false);
    await gatedActivation(rt, {
      fn: 'silu',
      rows: T,
      cols: f,
      a: { buffer: a.gate },
      b: { buffer: a.up },
      ...(a.act === a.gate ? {} : { out: { buffer: a.act } }),
    });
  } else {
    await linear('up', a.h2, a.up, d, f, false);
    const fn = c.activation === 'gelu_new' ? 'gelu_tanh' : c.activation === 'gelu' ? 'gelu' : 'relu';
    await pointwise(rt, {
      fn,
      rows: T,
      cols: f,
      x: { buffer: a.up },
      ...(a.act === a.up ? {} : { y: { buffer: a.act } }),
    });
  }
  if (await observe?.(3, a.act)) return;
  if (a.xOut !== a.xMid) rt.copy(a.xMid, a.xOut, T * d * 4);
  await linear('down', a.act, a.xOut, f, d, true);
}

/** Runs block `layer` on buffers.x in place (x ← block(x)), unless the observer stops it early. */
export async function blockForward(
  rt: GpuRuntime,
  c: ModelConfig,
  weights: WeightLookup,
  buffers: BlockBuffers,
  layer: number,
  observe?: GroupObserver,
): Promise<void> {
  const ws = buffers;
  // With a cache, this pass's keys and values go straight into their rows of the layer's cache.
  const cache = buffers.cache;
  const start = cache?.start ?? 0;
  const swiglu = c.activation === 'swiglu';
  const activations: BlockActivations = {
    xIn: ws.x,
    h1: ws.h,
    q: ws.q,
    k: cache ? (cache.k[layer] as GPUBuffer) : ws.k,
    v: cache ? (cache.v[layer] as GPUBuffer) : ws.v,
    attn: ws.attn,
    xMid: ws.x,
    h2: ws.h,
    ...(swiglu ? { gate: ws.gate } : {}),
    up: ws.up,
    act: swiglu ? ws.gate : ws.up,
    xOut: ws.x,
  };
  const attend = async (q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, out: GPUBuffer) => {
    const args = {
      q,
      k,
      v,
      out,
      tokens: ws.tokens,
      heads: c.heads,
      kvHeads: c.kvHeads,
      headDim: c.headDim,
      ...(cache ? { queryStart: start } : { seqLen: ws.seqLen }),
    };
    // Narrow heads take one invocation per (query, head) (attentionSmallHead.ts); wider ones go
    // through materialised scores and the matmul kernel for short windows, and through the online
    // softmax, whose memory does not grow with tokens², for long ones (see attentionScores.ts). The
    // scores take no query offset, so a cached pass past position 0 uses the online softmax.
    if (smallHeadFits(args, rt.limits)) await smallHeadAttention(rt, args);
    else if (start === 0 && scoresFit(ws.seqLen, rt.limits)) await scoresAttention(rt, args);
    else await attention(rt, args);
  };
  await runBlock(
    rt,
    c,
    weights,
    layer,
    activations,
    { tokens: ws.tokens, seqLen: ws.seqLen, start, attend },
    observe,
  );
}

/** y (+)= x · Wᵀ + b for a weight stored out × in; y's rows start at element offsetY. */
async function linearLayer(
  rt: GpuRuntime,
  weights: WeightLookup,
  name: string,
  x: GPUBuffer,
  y: GPUBuffer,
  rows: number,
  inDim: number,
  outDim: number,
  accumulate: boolean,
  offsetY = 0,
): Promise<void> {
  const w = requiredBuffer(weights, `${name}.weight`);
  // A pruned matrix kept compressed (weightStorage.ts) goes through the sparse kernels.
  const sparse = compressedWeight(w);
  if (sparse) {
    await sparseLinear(rt, { weights: sparse, x, y, tokens: rows, offsetY, accumulate });
  } else {
    await matmul(rt, {
      a: x,
      b: w,
      // F16 and BF16 checkpoints' matrices stay packed on the GPU (weightStorage.ts).
      bType: weightStorage(w),
      c: y,
      m: rows,
      n: outDim,
      k: inDim,
      transB: true,
      beta: accumulate ? 1 : 0,
      offsetC: offsetY,
    });
  }
  const bias = weights(`${name}.bias`);
  if (bias) await biasAdd(rt, { rows, cols: outDim, y: { buffer: y, offset: offsetY }, bias });
}

/** The family's norm of x into y. */
export async function normLayer(
  rt: GpuRuntime,
  c: ModelConfig,
  weights: WeightLookup,
  name: string,
  x: GPUBuffer,
  y: GPUBuffer,
  rows: number,
): Promise<void> {
  await norm(rt, {
    kind: c.norm === 'rmsnorm' ? 'rms' : 'layer',
    x,
    y,
    weight: requiredBuffer(weights, `${name}.weight`),
    bias: c.norm === 'layernorm' ? requiredBuffer(weights, `${name}.bias`) : undefined,
    rows,
    width: c.hidden,
    eps: c.normEps,
  });
}
