// A model on the GPU: its weights uploaded through the ledger, and the forward pass of every
// supported family composed from our kernels. When the weights do not fit the memory budget the
// model is 'streaming': only the embeddings, final norm and head stay resident, and each block's
// weights are uploaded when the block runs and freed after it, so memory is bounded by one block.
// A F16 or BF16 checkpoint's matrices stay 16-bit on the GPU (see weightStorage.ts).

import type { TrackedBuffer } from '../gpu/ledger';
import type { GpuRuntime } from '../gpu/runtime';
import { crossEntropy, IGNORE_TARGET } from '../kernels/crossEntropy';
import { matmul } from '../kernels/matmul';
import { logitChunkRows } from './batch';
import {
  type BlockBuffers,
  blockBufferSizes,
  blockForward,
  type CachedPass,
  embedTokens,
  normLayer,
  type WeightLookup,
} from './blockForward';
import type { ModelConfig } from './config';
import type { KvCache } from './kvCache';
import type { WindowScore } from './perplexity';
import type { SparseExportFormat } from './sparseSafetensors';
import { type HeldWeight, tensorBytes, tensorStorage, uploadWeight, weightStorage } from './weightStorage';
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
  /**
   * Keep the blocks' linear-layer matrices compressed on the GPU in this sparse format, and multiply
   * by them with the sparse kernels (src/sparse): a pruned model's zeros then take no bytes. Every
   * such matrix must satisfy the format (an N:M pattern), or loading fails naming the tensor.
   */
  compress?: SparseExportFormat;
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
}

type Weights = Map<string, HeldWeight>;

/** Activation buffers for one pass shape (windows × sequence length), reused across passes. */
interface Workspace extends BlockBuffers {
  buffers: TrackedBuffer[];
  targets: GPUBuffer;
  logits: GPUBuffer;
  nll: GPUBuffer;
}

const isShared = (name: string) => !name.startsWith('layers.');

export class GpuModel {
  private workspace: Workspace | null = null;

  private constructor(
    readonly rt: GpuRuntime,
    readonly source: WeightSource,
    readonly residency: Residency,
    private readonly shared: Weights,
    private readonly blocks: Weights[] | null,
    /** The sparse format block matrices are kept in (LoadOptions.compress), also when streamed. */
    readonly compress?: SparseExportFormat,
  ) {}

  get config(): ModelConfig {
    return this.source.config;
  }

  static async load(rt: GpuRuntime, source: WeightSource, options: LoadOptions = {}): Promise<GpuModel> {
    const residency = options.residency ?? 'resident';
    const tensors = canonicalTensors(source.config).filter(
      (t) => residency === 'resident' || isShared(t.name),
    );
    const bytesTotal = tensors.reduce((s, t) => s + tensorBytes(t, tensorStorage(source, t)), 0);
    let bytesDone = 0;
    const uploaded: Weights = new Map();
    try {
      for (const t of tensors) {
        options.signal?.throwIfAborted();
        options.onProgress?.({ phase: 'read', bytesDone, bytesTotal, tensor: t.name });
        const weight = await uploadWeight(rt, source, t, options.compress);
        options.onProgress?.({ phase: 'upload', bytesDone, bytesTotal, tensor: t.name });
        uploaded.set(t.name, weight);
        bytesDone += weight.bytes;
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
    return new GpuModel(rt, source, residency, shared, blocks, options.compress);
  }

  /** Frees every buffer the model holds. */
  destroy(): void {
    for (const b of this.shared.values()) b.destroy();
    for (const block of this.blocks ?? []) for (const b of block.values()) b.destroy();
    this.releaseWorkspace();
  }

  /**
   * Frees the activation buffers kept between passes; the next pass allocates its own. A pass that
   * ran out of memory may leave a larger workspace than a smaller retry needs (workspaceFor reuses
   * a larger one), so the retry starts from none.
   */
  releaseWorkspace(): void {
    for (const b of this.workspace?.buffers ?? []) b.destroy();
    this.workspace = null;
  }

  /** Sum of next-token NLLs over one window (T − 1 predictions). */
  async scoreWindow(ids: readonly number[]): Promise<WindowScore> {
    return (await this.scoreWindows([ids]))[0] as WindowScore;
  }

  /**
   * Sums of next-token NLLs of windows of one length, in one pass (see batch.ts): the same numbers
   * as scoring them one by one, with one read-back for all of them.
   */
  async scoreWindows(windows: readonly (readonly number[])[]): Promise<WindowScore[]> {
    const ws = await this.forward(windows);
    const c = this.config;
    const T = ws.seqLen;
    const rows = ws.tokens;
    // The last token of each window predicts nothing.
    const targets = new Uint32Array(rows);
    for (const [w, ids] of windows.entries())
      for (let t = 0; t < T; t++) targets[w * T + t] = t + 1 < T ? (ids[t + 1] as number) : IGNORE_TARGET;
    this.rt.write(ws.targets, targets);
    const chunk = logitChunkRows(c.vocabSize, rows);
    for (let t0 = 0; t0 < rows; t0 += chunk) {
      const n = Math.min(chunk, rows - t0);
      await this.head(ws, t0, n);
      await crossEntropy(this.rt, {
        logits: ws.logits,
        targets: ws.targets,
        nll: ws.nll,
        rows: n,
        vocab: c.vocabSize,
        offsetTargets: t0,
        offsetNll: t0,
      });
    }
    // Each window's sum in float64 on the host, from one read-back of the per-token NLLs.
    const nll = await this.rt.readF32(ws.nll, 0, 4 * rows);
    return windows.map((_, w) => {
      let sum = 0;
      for (let t = 0; t < T - 1; t++) sum += nll[w * T + t] as number;
      return { nllSum: sum, count: T - 1 };
    });
  }

  /** Logits of every position, tokens × vocab (for generation and for checks). */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    const ws = await this.forward([ids]);
    const V = this.config.vocabSize;
    const out = new Float32Array(ids.length * V);
    const chunk = logitChunkRows(V, ids.length);
    for (let t0 = 0; t0 < ids.length; t0 += chunk) {
      const rows = Math.min(chunk, ids.length - t0);
      await this.head(ws, t0, rows);
      out.set(await this.rt.readF32(ws.logits, 0, 4 * rows * V), t0 * V);
    }
    return out;
  }

  /**
   * Runs `ids`, the next positions of the sequence whose earlier positions `cache` holds, through
   * the model: their keys and values join the cache, and the logits of the last one (vocab floats,
   * one read-back) come back. A prompt goes through in one pass (prefill), then one token per call.
   */
  async extend(cache: KvCache, ids: readonly number[]): Promise<Float32Array> {
    if (cache.config !== this.config) throw new Error('the KV cache was made for another model');
    if (ids.length === 0) throw new RangeError('extend needs at least one token');
    if (cache.length + ids.length > cache.capacity) {
      throw new RangeError(
        `${cache.length} cached positions and ${ids.length} new ones exceed the KV cache's ${cache.capacity}`,
      );
    }
    const ws = await this.forward([ids], { start: cache.length, k: cache.k, v: cache.v });
    cache.length += ids.length;
    await this.head(ws, ids.length - 1, 1);
    return this.rt.readF32(ws.logits, 0, 4 * this.config.vocabSize);
  }

  /**
   * Runs embeddings and every block over a pass of windows; leaves the final-normed hidden states
   * in ws.h. With a cache, the one window continues the cached sequence (blockForward's CachedPass).
   */
  private async forward(windows: readonly (readonly number[])[], cache?: CachedPass): Promise<Workspace> {
    const c = this.config;
    const T = windows[0]?.length ?? 0;
    if (T === 0 || T > c.maxPositions) {
      throw new RangeError(
        `a window of ${T} tokens is outside 1..${c.maxPositions}, the model's context length`,
      );
    }
    const ids: number[] = [];
    for (const window of windows) {
      if (window.length !== T) {
        throw new RangeError(`the windows of one pass differ in length (${T} and ${window.length})`);
      }
      const bad = window.find((id) => !Number.isInteger(id) || id < 0 || id >= c.vocabSize);
      if (bad !== undefined)
        throw new RangeError(`token id ${bad} is outside the vocabulary of ${c.vocabSize}`);
      ids.push(...window);
    }
    const rt = this.rt;
    const ws = { ...(await this.workspaceFor(windows.length, T)), cache };
    await embedTokens(rt, c, this.lookup(this.shared), ws, ids);
    for (let l = 0; l < c.layers; l++) {
      const block = this.blocks ? (this.blocks[l] as Weights) : await this.uploadBlock(l);
      try {
        await blockForward(rt, c, this.lookup(block), ws, l);
      } finally {
        if (!this.blocks) {
          for (const b of block.values()) b.destroy();
          // Submit now so the block's memory is really freed before the next block is uploaded:
          // streaming holds one block at a time, not two.
          this.rt.flush();
        }
      }
    }
    await normLayer(rt, c, this.lookup(this.shared), 'final_norm', ws.x, ws.h, ws.tokens);
    return ws;
  }

  /** Logits of rows t0..t0+rows of ws.h into ws.logits. */
  private async head(ws: Workspace, t0: number, rows: number): Promise<void> {
    const c = this.config;
    const table = this.weight(this.shared, c.tiedEmbeddings ? 'tok_embeddings' : 'lm_head.weight');
    await matmul(this.rt, {
      a: ws.h,
      b: table,
      bType: weightStorage(table),
      c: ws.logits,
      m: rows,
      n: c.vocabSize,
      k: c.hidden,
      transB: true,
      offsetA: t0 * c.hidden,
    });
  }

  private lookup(w: Weights): WeightLookup {
    return (name) => w.get(name)?.buffer;
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
      for (const t of names) block.set(t.name, await uploadWeight(this.rt, this.source, t, this.compress));
    } catch (error) {
      for (const b of block.values()) b.destroy();
      throw error;
    }
    return block;
  }

  /** The workspace for a pass; a smaller pass of the same window length reuses a larger one's buffers. */
  private async workspaceFor(windows: number, seqLen: number): Promise<Workspace> {
    const tokens = windows * seqLen;
    const current = this.workspace;
    if (current && current.seqLen === seqLen && current.tokens >= tokens) return { ...current, tokens };
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
      const sizes = blockBufferSizes(c, tokens);
      const ws: Workspace = {
        tokens,
        seqLen,
        buffers,
        ids: await make('token ids', sizes.ids),
        positions: await make('position ids', sizes.positions),
        targets: await make('targets', tokens),
        x: await make('residual stream', sizes.x),
        h: await make('normed hidden', sizes.h),
        q: await make('queries', sizes.q),
        k: await make('keys', sizes.k),
        v: await make('values', sizes.v),
        attn: await make('attention output', sizes.attn),
        up: await make('mlp up', sizes.up),
        gate: await make('mlp gate', sizes.gate),
        logits: await make('logits', logitChunkRows(c.vocabSize, tokens) * c.vocabSize),
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
