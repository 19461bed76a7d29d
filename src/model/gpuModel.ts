// A model on the GPU: its weights uploaded through the ledger, and the forward pass of every
// supported family composed from our kernels. When the weights do not fit the memory budget the
// model is 'streaming': only the embeddings, final norm and head stay resident, and each block's
// weights are uploaded when the block runs and freed after it, so memory is bounded by one block.

import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { biasAdd, gatedActivation, activation as pointwise } from '../kernels/activation';
import { attention } from '../kernels/attention';
import { scoresAttention, scoresFit } from '../kernels/attentionScores';
import { crossEntropy, IGNORE_TARGET } from '../kernels/crossEntropy';
import { embedding } from '../kernels/embedding';
import { matmul } from '../kernels/matmul';
import { norm } from '../kernels/norm';
import { reduceToNumber } from '../kernels/reduce';
import { rope } from '../kernels/rope';
import type { ModelConfig } from './config';
import { LOGIT_CHUNK_TOKENS } from './fit';
import type { WindowScore } from './perplexity';
import { canonicalTensors, type WeightSource } from './weights';

export type Residency = 'resident' | 'streaming';

export interface LoadProgress {
  phase: 'read' | 'upload';
  bytesDone: number;
  bytesTotal: number;
  tensor: string;
}

export interface LoadOptions {
  residency?: Residency;
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
}

type Weights = Map<string, TrackedBuffer>;

/** Activation buffers for one sequence length, reused across windows. */
interface Workspace {
  tokens: number;
  buffers: TrackedBuffer[];
  ids: GPUBuffer;
  positions: GPUBuffer;
  targets: GPUBuffer;
  x: GPUBuffer;
  h: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  attn: GPUBuffer;
  up: GPUBuffer;
  gate: GPUBuffer;
  logits: GPUBuffer;
  nll: GPUBuffer;
}

const isShared = (name: string) => !name.startsWith('layers.');

export class GpuModel {
  private workspace: Workspace | null = null;

  private constructor(
    private readonly rt: GpuRuntime,
    readonly source: WeightSource,
    readonly residency: Residency,
    private readonly shared: Weights,
    private readonly blocks: Weights[] | null,
  ) {}

  get config(): ModelConfig {
    return this.source.config;
  }

  static async load(rt: GpuRuntime, source: WeightSource, options: LoadOptions = {}): Promise<GpuModel> {
    const residency = options.residency ?? 'resident';
    const tensors = canonicalTensors(source.config).filter(
      (t) => residency === 'resident' || isShared(t.name),
    );
    const bytesTotal = tensors.reduce((s, t) => s + 4 * t.shape.reduce((a, b) => a * b, 1), 0);
    let bytesDone = 0;
    const uploaded: Weights = new Map();
    try {
      for (const t of tensors) {
        options.signal?.throwIfAborted();
        options.onProgress?.({ phase: 'read', bytesDone, bytesTotal, tensor: t.name });
        const data = await source.read(t.name);
        options.onProgress?.({ phase: 'upload', bytesDone, bytesTotal, tensor: t.name });
        uploaded.set(t.name, await rt.upload(t.name, 'weights', data));
        bytesDone += data.byteLength;
      }
      options.onProgress?.({ phase: 'upload', bytesDone, bytesTotal, tensor: '' });
    } catch (error) {
      for (const b of uploaded.values()) b.destroy();
      throw error;
    }
    const shared: Weights = new Map([...uploaded].filter(([name]) => isShared(name)));
    const blocks =
      residency === 'resident'
        ? Array.from({ length: source.config.layers }, (_, l) => blockSlice(uploaded, l))
        : null;
    return new GpuModel(rt, source, residency, shared, blocks);
  }

  /** Frees every buffer the model holds. */
  destroy(): void {
    for (const b of this.shared.values()) b.destroy();
    for (const block of this.blocks ?? []) for (const b of block.values()) b.destroy();
    for (const b of this.workspace?.buffers ?? []) b.destroy();
    this.workspace = null;
  }

  /** Sum of next-token NLLs over one window (T − 1 predictions). */
  async scoreWindow(ids: readonly number[]): Promise<WindowScore> {
    const ws = await this.forward(ids);
    const c = this.config;
    const T = ids.length;
    const targets = new Uint32Array(T);
    for (let t = 0; t < T; t++) targets[t] = t + 1 < T ? (ids[t + 1] as number) : IGNORE_TARGET;
    this.rt.write(ws.targets, targets);
    for (let t0 = 0; t0 < T; t0 += LOGIT_CHUNK_TOKENS) {
      const rows = Math.min(LOGIT_CHUNK_TOKENS, T - t0);
      await this.head(ws, t0, rows);
      await crossEntropy(this.rt, {
        logits: ws.logits,
        targets: ws.targets,
        nll: ws.nll,
        rows,
        vocab: c.vocabSize,
        offsetTargets: t0,
        offsetNll: t0,
      });
    }
    const nllSum = await reduceToNumber(this.rt, 'sum', T, { buffer: ws.nll });
    return { nllSum, count: T - 1 };
  }

  /** Logits of every position, tokens × vocab (for generation and for checks). */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    const ws = await this.forward(ids);
    const V = this.config.vocabSize;
    const out = new Float32Array(ids.length * V);
    for (let t0 = 0; t0 < ids.length; t0 += LOGIT_CHUNK_TOKENS) {
      const rows = Math.min(LOGIT_CHUNK_TOKENS, ids.length - t0);
      await this.head(ws, t0, rows);
      out.set(await this.rt.readF32(ws.logits, 0, 4 * rows * V), t0 * V);
    }
    return out;
  }

  /** Runs embeddings and every block; leaves the final-normed hidden states in ws.h. */
  private async forward(ids: readonly number[]): Promise<Workspace> {
    const c = this.config;
    const T = ids.length;
    if (T === 0 || T > c.maxPositions) {
      throw new RangeError(
        `a window of ${T} tokens is outside 1..${c.maxPositions}, the model's context length`,
      );
    }
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= c.vocabSize);
    if (bad !== undefined)
      throw new RangeError(`token id ${bad} is outside the vocabulary of ${c.vocabSize}`);
    const rt = this.rt;
    const ws = await this.workspaceFor(T);
    rt.write(ws.ids, Uint32Array.from(ids));
    const d = c.hidden;
    await embedding(rt, {
      ids: ws.ids,
      table: this.weight(this.shared, 'tok_embeddings'),
      out: ws.x,
      tokens: T,
      vocab: c.vocabSize,
      width: d,
    });
    if (c.positions === 'learned') {
      rt.write(
        ws.positions,
        Uint32Array.from({ length: T }, (_, t) => t + c.positionOffset),
      );
      await embedding(rt, {
        ids: ws.positions,
        table: this.weight(this.shared, 'pos_embeddings'),
        out: ws.x,
        tokens: T,
        vocab: c.maxPositions + c.positionOffset,
        width: d,
        accumulate: true,
      });
    }
    for (let l = 0; l < c.layers; l++) {
      const block = this.blocks ? (this.blocks[l] as Weights) : await this.uploadBlock(l);
      try {
        await this.block(ws, block, l);
      } finally {
        if (!this.blocks) {
          for (const b of block.values()) b.destroy();
          // Submit now so the block's memory is really freed before the next block is uploaded:
          // streaming holds one block at a time, not two.
          this.rt.flush();
        }
      }
    }
    await this.norm(ws.x, ws.h, this.shared, 'final_norm', T);
    return ws;
  }

  private async block(ws: Workspace, w: Weights, l: number): Promise<void> {
    const c = this.config;
    const rt = this.rt;
    const T = ws.tokens;
    const d = c.hidden;
    const qd = c.heads * c.headDim;
    const kvd = c.kvHeads * c.headDim;
    const p = `layers.${l}`;
    await this.norm(ws.x, ws.h, w, `${p}.attn_norm`, T);
    await this.linear(w, `${p}.q`, ws.h, ws.q, T, d, qd, false);
    await this.linear(w, `${p}.k`, ws.h, ws.k, T, d, kvd, false);
    await this.linear(w, `${p}.v`, ws.h, ws.v, T, d, kvd, false);
    if (c.positions === 'rope') {
      for (const [buffer, heads] of [
        [ws.q, c.heads],
        [ws.k, c.kvHeads],
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
    const attentionArgs = {
      q: ws.q,
      k: ws.k,
      v: ws.v,
      out: ws.attn,
      tokens: T,
      heads: c.heads,
      kvHeads: c.kvHeads,
      headDim: c.headDim,
    };
    // Short windows go through materialised scores and the matmul kernel; long ones through the
    // online softmax, whose memory does not grow with tokens² (see attentionScores.ts).
    if (scoresFit(T, rt.limits)) await scoresAttention(rt, attentionArgs);
    else await attention(rt, attentionArgs);
    // The residual stream accumulates in place: x ← x + W_o · attn.
    await this.linear(w, `${p}.o`, ws.attn, ws.x, T, qd, d, true);
    await this.norm(ws.x, ws.h, w, `${p}.mlp_norm`, T);
    const f = c.ffnHidden;
    if (c.activation === 'swiglu') {
      await this.linear(w, `${p}.gate`, ws.h, ws.gate, T, d, f, false);
      await this.linear(w, `${p}.up`, ws.h, ws.up, T, d, f, false);
      await gatedActivation(rt, {
        fn: 'silu',
        rows: T,
        cols: f,
        a: { buffer: ws.gate },
        b: { buffer: ws.up },
      });
      await this.linear(w, `${p}.down`, ws.gate, ws.x, T, f, d, true);
    } else {
      await this.linear(w, `${p}.up`, ws.h, ws.up, T, d, f, false);
      const fn = c.activation === 'gelu_new' ? 'gelu_tanh' : c.activation === 'gelu' ? 'gelu' : 'relu';
      await pointwise(rt, { fn, rows: T, cols: f, x: { buffer: ws.up } });
      await this.linear(w, `${p}.down`, ws.up, ws.x, T, f, d, true);
    }
  }

  /** y (+)= x · Wᵀ + b for a weight stored out × in. */
  private async linear(
    w: Weights,
    name: string,
    x: GPUBuffer,
    y: GPUBuffer,
    rows: number,
    inDim: number,
    outDim: number,
    accumulate: boolean,
  ): Promise<void> {
    await matmul(this.rt, {
      a: x,
      b: this.weight(w, `${name}.weight`),
      c: y,
      m: rows,
      n: outDim,
      k: inDim,
      transB: true,
      beta: accumulate ? 1 : 0,
    });
    const bias = w.get(`${name}.bias`);
    if (bias) await biasAdd(this.rt, { rows, cols: outDim, y: { buffer: y }, bias: bias.buffer });
  }

  private async norm(x: GPUBuffer, y: GPUBuffer, w: Weights, name: string, rows: number): Promise<void> {
    const c = this.config;
    await norm(this.rt, {
      kind: c.norm === 'rmsnorm' ? 'rms' : 'layer',
      x,
      y,
      weight: this.weight(w, `${name}.weight`),
      bias: c.norm === 'layernorm' ? this.weight(w, `${name}.bias`) : undefined,
      rows,
      width: c.hidden,
      eps: c.normEps,
    });
  }

  /** Logits of rows t0..t0+rows of ws.h into ws.logits. */
  private async head(ws: Workspace, t0: number, rows: number): Promise<void> {
    const c = this.config;
    const table = c.tiedEmbeddings ? 'tok_embeddings' : 'lm_head.weight';
    await matmul(this.rt, {
      a: ws.h,
      b: this.weight(this.shared, table),
      c: ws.logits,
      m: rows,
      n: c.vocabSize,
      k: c.hidden,
      transB: true,
      offsetA: t0 * c.hidden,
    });
  }

  private weight(w: Weights, name: string): GPUBuffer {
    const tracked = w.get(name);
    if (!tracked) throw new Error(`weight ${name} is not on the GPU`);
    return tracked.buffer;
  }

  private async uploadBlock(l: number): Promise<Weights> {
    const names = canonicalTensors(this.config).filter((t) => t.name.startsWith(`layers.${l}.`));
    const block: Weights = new Map();
    try {
      for (const t of names)
        block.set(t.name, await this.rt.upload(t.name, 'weights', await this.source.read(t.name)));
    } catch (error) {
      for (const b of block.values()) b.destroy();
      throw error;
    }
    return block;
  }

  private async workspaceFor(tokens: number): Promise<Workspace> {
    if (this.workspace?.tokens === tokens) return this.workspace;
    for (const b of this.workspace?.buffers ?? []) b.destroy();
    this.workspace = null;
    const c = this.config;
    const buffers: TrackedBuffer[] = [];
    const make = async (label: string, elements: number) => {
      const b = await this.rt.createBuffer(label, 'activations', 4 * elements);
      buffers.push(b);
      return b.buffer;
    };
    try {
      const qd = c.heads * c.headDim;
      const kvd = c.kvHeads * c.headDim;
      const ws: Workspace = {
        tokens,
        buffers,
        ids: await make('token ids', tokens),
        positions: await make('position ids', tokens),
        targets: await make('targets', tokens),
        x: await make('residual stream', tokens * c.hidden),
        h: await make('normed hidden', tokens * c.hidden),
        q: await make('queries', tokens * qd),
        k: await make('keys', tokens * kvd),
        v: await make('values', tokens * kvd),
        attn: await make('attention output', tokens * qd),
        up: await make('mlp up', tokens * c.ffnHidden),
        gate: await make('mlp gate', c.activation === 'swiglu' ? tokens * c.ffnHidden : 1),
        logits: await make('logits', Math.min(tokens, LOGIT_CHUNK_TOKENS) * c.vocabSize),
        nll: await make('token nll', tokens),
      };
      this.workspace = ws;
      return ws;
    } catch (error) {
      for (const b of buffers) b.destroy();
      throw error;
    }
  }
}

function blockSlice(all: Weights, layer: number): Weights {
  const prefix = `layers.${layer}.`;
  return new Map([...all].filter(([name]) => name.startsWith(prefix)));
}
